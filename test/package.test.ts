// The npm package as a product gets it: `npm pack`, `npm install <tarball>` into an empty project, then plain Node
// (no TypeScript loader), `npx refresca`, and the product's own tsc against the installed declarations.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refrescaSettingsFor, startSimulator, type Simulator } from "../src/simulator";
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from "./env";
import { deleteKeys, TEST_KEYS } from "./support/harness";
import { installInto, npm, npmEnv, packedTarball, ROOT } from "./support/package";

const run = promisify(execFile);
let project: string;
let simulator: Simulator;
const schemas: string[] = [];
const keyPrefix = `${uniqueName("pkg")}:`;

/** Runs `node <file>` in the project on plain Node: no loader, no NODE_OPTIONS inherited from the test runner. */
async function plainNode(file: string, args: string[] = []) {
  const env = npmEnv();
  delete env.NODE_OPTIONS;
  return run(process.execPath, [file, ...args], { cwd: project, env, timeout: 60_000 });
}

/** What a product writes: the three entry points, a Refresca from explicit options, one channel, one refresh. */
const PRODUCT_SCRIPT = `
import { createRefresca, createRefrescaFromEnv } from "refresca";
import { createClient } from "refresca/client";
import { createOAuthRefreshActions } from "refresca/next";

const { options, channel } = JSON.parse(process.argv[2]);
const refresca = await createRefresca(options);
try {
  const saved = await refresca.channels.upsert(channel);
  const refreshed = await refresca.refreshChannelToken({ tenantId: channel.tenantId, channelId: channel.id });
  const actions = createOAuthRefreshActions({ refresca, tenantOf: () => channel.tenantId });
  const own = await actions.getRefreshStatistics({ tenantId: channel.tenantId });
  const foreign = await actions.getRefreshStatistics({ tenantId: "someone-else" });
  const client = createClient({ baseUrl: "http://127.0.0.1:1", apiKey: "rka_unused" });
  console.log("RESULT " + JSON.stringify({
    saved, refreshed, own, foreign,
    client: typeof client.getAccessToken, fromEnv: typeof createRefrescaFromEnv,
    resolved: import.meta.resolve("refresca"),
  }));
} finally {
  await refresca.close();
}
`;

beforeAll(async () => {
  const tarball = await packedTarball();
  project = await mkdtemp(path.join(tmpdir(), "refresca-package-"));
  await writeFile(path.join(project, "package.json"), JSON.stringify({ name: "product", private: true, type: "module" }));
  await installInto(project, tarball);
  simulator = await startSimulator();
}, 900_000);

afterAll(async () => {
  await simulator?.close();
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
  for (const schema of schemas) await pool.query(`drop schema if exists "${schema}" cascade`);
  await pool.end();
  await deleteKeys(keyPrefix);
  if (project) await rm(project, { recursive: true, force: true });
});

describe("the packed npm package", () => {
  it("holds the compiled library, its declarations, the CLI and the migrations, and no sources or build tools", async () => {
    const installed = path.join(project, "node_modules", "refresca");
    for (const file of ["dist/lib/index.js", "dist/lib/client.js", "dist/lib/next.js", "dist/cli.js", "bin/refresca.js"]) {
      expect(existsSync(path.join(installed, file)), file).toBe(true);
    }
    for (const file of ["dist/types/index.d.ts", "dist/types/client/index.d.ts", "dist/types/next/index.d.ts"]) {
      expect(existsSync(path.join(installed, file)), file).toBe(true);
    }
    expect(existsSync(path.join(installed, "src/core/store/migrations/meta/_journal.json"))).toBe(true);
    for (const absent of ["src/cli.ts", "src/index.ts", "src/app", "next.config.ts", "scripts", "test"]) {
      expect(existsSync(path.join(installed, absent)), absent).toBe(false);
    }
    const manifest = JSON.parse(await readFile(path.join(installed, "package.json"), "utf8"));
    for (const tool of ["tsx", "esbuild", "typescript", "next", "react"]) expect(manifest.dependencies).not.toHaveProperty(tool);
    for (const tool of ["tsx", "esbuild", "typescript"]) expect(existsSync(path.join(project, "node_modules", tool)), tool).toBe(false);
  });

  it("imports refresca, refresca/client and refresca/next on plain Node and refreshes a channel at the simulator", async () => {
    const schema = uniqueName("pkg");
    schemas.push(schema);
    const tokens = await simulator.issue({ platform: "tiktok", accessExpiresInSeconds: 600 });
    const options = {
      databaseUrl: TEST_DATABASE_URL,
      schema,
      redisUrl: TEST_REDIS_URL,
      keyPrefix,
      encryptionKeys: TEST_KEYS,
      ...refrescaSettingsFor(simulator.url),
    };
    const channel = {
      tenantId: "acme",
      id: "tiktok-1",
      type: "tiktok",
      displayName: "Acme TikTok",
      localName: "@acme",
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt: tokens.expiresAt,
    };
    await writeFile(path.join(project, "product.mjs"), PRODUCT_SCRIPT);
    const callsBefore = (await simulator.stats()).totalCalls;

    const { stdout } = await plainNode("product.mjs", [JSON.stringify({ options, channel })]);
    const line = stdout.split("\n").find((text) => text.startsWith("RESULT "));
    expect(line, stdout).toBeDefined();
    const result = JSON.parse(line!.slice("RESULT ".length));

    expect(result.resolved).toBe(`file://${path.join(project, "node_modules/refresca/dist/lib/index.js")}`);
    expect(result.saved).toMatchObject({ success: true, channel: { id: "tiktok-1", hasRefreshToken: true } });
    expect(result.refreshed).toMatchObject({ success: true, channelId: "tiktok-1" });
    expect(Date.parse(result.refreshed.newExpiresAt)).toBeGreaterThan(Date.parse(tokens.expiresAt!));
    expect((await simulator.stats()).totalCalls).toBe(callsBefore + 1);
    expect(result.own).toMatchObject({ success: true, statistics: { totalChannels: 1, channelsWithRefreshToken: 1 } });
    expect(result.foreign).toMatchObject({ success: false, code: "FORBIDDEN" });
    expect(result).toMatchObject({ client: "function", fromEnv: "function" });
    expect(stdout).not.toContain(tokens.accessToken);
  }, 120_000);

  it("runs `npx refresca` from the install: help, migrate, keys; the dashboard commands say where they run", async () => {
    const help = await npm(["refresca", "--help"], project, 60_000, "npx");
    for (const command of ["migrate", "channels", "worker", "api-keys", "simulate"]) expect(help.stdout).toContain(command);

    const key = await npm(["refresca", "keys", "generate", "k9"], project, 60_000, "npx");
    expect(key.stdout.trim()).toMatch(/^k9:[A-Za-z0-9+/]{43}=$/);

    // The CLI finds the migrations inside the installed package.
    const schema = uniqueName("pkgcli");
    schemas.push(schema);
    const env = npmEnv({ DATABASE_URL: TEST_DATABASE_URL, REDIS_URL: TEST_REDIS_URL, REFRESCA_DB_SCHEMA: schema, REFRESCA_ENCRYPTION_KEYS: TEST_KEYS, REFRESCA_KEY_PREFIX: keyPrefix });
    const migrated = await run("npx", ["refresca", "migrate"], { cwd: project, env, timeout: 60_000 });
    expect(migrated.stdout).toContain("Database schema is up to date.");
    const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
    const tables = await pool.query("select table_name from information_schema.tables where table_schema = $1", [schema]);
    await pool.end();
    expect(tables.rows.map((row) => row.table_name)).toEqual(expect.arrayContaining(["channels", "tenants", "refresh_events"]));

    const web = await run("npx", ["refresca", "web"], { cwd: project, env, timeout: 60_000 }).catch((error: { code: number; stderr: string }) => error);
    expect(web).toMatchObject({ code: 2 });
    expect((web as { stderr: string }).stderr).toContain("not part of the npm package");
  }, 180_000);

  it("type-checks a product's TypeScript against the installed declarations (NodeNext resolution), and catches misuse", async () => {
    const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const compilerOptions = {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      typeRoots: [path.join(ROOT, "node_modules", "@types")],
      types: ["node"],
    };
    await writeFile(
      path.join(project, "good.ts"),
      `import { createRefresca, createRefrescaFromEnv, type Refresca, type TokenExpirationInfo } from "refresca";
import { createClient } from "refresca/client";
import { createOAuthRefreshActions } from "refresca/next";

export async function product(): Promise<string | undefined> {
  const refresca: Refresca = await createRefresca({ databaseUrl: "postgres://db/app", encryptionKeys: "k1:…", redisUrl: "redis://r" });
  const fromEnv: Refresca = await createRefrescaFromEnv({ schema: "refresca" });
  await fromEnv.close();
  const refreshed = await refresca.refreshChannelToken({ channelId: "c", tenantId: "t" });
  const actions = createOAuthRefreshActions({ refresca: () => refresca, tenantOf: async () => "t" });
  const needing = await actions.getChannelsNeedingTokenRefresh({ tenantId: "t" });
  const soonest: TokenExpirationInfo | undefined = needing.success ? needing.channels[0] : undefined;
  const token = await createClient({ baseUrl: "http://refresca", apiKey: "rka_x" }).getAccessToken({ tenantId: "t", channelId: "c" });
  if (token.success) return token.accessToken;
  return refreshed.success ? (refreshed.newExpiresAt ?? undefined) : soonest?.displayName;
}
`,
    );
    await writeFile(path.join(project, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["good.ts"] }));
    const good = await run(process.execPath, [tsc, "-p", "."], { cwd: project, timeout: 120_000 }).catch((error: { stdout: string }) => error);
    expect((good as { stdout: string }).stdout).toBe("");

    // Were the declarations not found, everything would be `any` and this would compile too.
    await writeFile(
      path.join(project, "bad.ts"),
      `import { createRefresca } from "refresca";
import { createOAuthRefreshActions } from "refresca/next";
const refresca = await createRefresca({ databaseUrl: "postgres://db/app" });
createOAuthRefreshActions({ refresca, tenantOf: () => 42 });
export const code: number = (await refresca.getRefreshStatistics({ tenantId: "t" })).statistics;
`,
    );
    await writeFile(path.join(project, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["bad.ts"] }));
    const bad = await run(process.execPath, [tsc, "-p", "."], { cwd: project, timeout: 120_000 }).catch((error: { code: number; stdout: string }) => error);
    expect(bad).toMatchObject({ code: 2 });
    const errors = (bad as { stdout: string }).stdout;
    expect(errors).toContain("Property 'encryptionKeys' is missing");
    expect(errors).toContain("Type 'number' is not assignable to type 'TenantAccess");
    expect(errors).toContain("Property 'statistics' does not exist");
  }, 240_000);
});
