import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey } from "../src/core/access/api-keys";
import { openStore } from "../src/core/store";
import { ensureEmbeddedPostgres } from "../src/core/store/embedded";
import { TEST_REDIS_URL } from "./env";

const run = promisify(execFile);
let dataDir: string;

/** The CLI as a user runs it: no DATABASE_URL, so the embedded PostgreSQL in the data folder. */
async function refresca(args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, REFRESCA_DATA_DIR: dataDir, REDIS_URL: TEST_REDIS_URL, LOG_LEVEL: "info" };
  delete env.DATABASE_URL;
  delete env.REFRESCA_ENCRYPTION_KEYS;
  try {
    const { stdout, stderr } = await run(process.execPath, ["bin/refresca.js", ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "refresca-cli-"));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe("refresca channels import on the embedded default", () => {
  it("imports valid entries, names the invalid ones, encrypts tokens, and lists without tokens", async () => {
    const file = path.join(dataDir, "channels.json");
    await writeFile(
      file,
      JSON.stringify([
        { tenantId: "acme", id: "tt-1", type: "tiktok", displayName: "Acme TikTok", localName: "@acme", accessToken: "plain-access-1", refreshToken: "plain-refresh-1", expiresAt: "2030-01-01T00:00:00Z" },
        { tenantId: "acme", id: "ig-1", type: "instagram", displayName: "Acme IG", accessToken: "plain-access-2", expiresAt: null },
        { tenantId: "acme", type: "myspace", displayName: "bad", accessToken: "plain-access-3" },
      ]),
    );
    const imported = await refresca(["channels", "import", file]);
    expect(imported.stdout).toContain("2 channel(s) imported, 1 refused.");
    expect(imported.stdout).toContain("entry 2: type: must be one of");
    expect(imported.code).toBe(1);
    expect(imported.stderr).toContain("Created a local encryption key");
    expect((await stat(path.join(dataDir, "encryption-keys"))).mode & 0o777).toBe(0o600);

    const listed = await refresca(["channels", "list", "--tenant", "acme", "--json"]);
    expect(listed.code).toBe(0);
    const channels = JSON.parse(listed.stdout);
    expect(channels.map((c: { id: string }) => c.id)).toEqual(["ig-1", "tt-1"]);
    expect(channels[1]).toMatchObject({ type: "tiktok", expiresAt: "2030-01-01T00:00:00.000Z", hasRefreshToken: true });
    for (const output of [imported.stdout, imported.stderr, listed.stdout, listed.stderr]) {
      expect(output).not.toMatch(/plain-(access|refresh)/);
    }
    const keyFile = await readFile(path.join(dataDir, "encryption-keys"), "utf8");
    expect(listed.stdout + listed.stderr).not.toContain(keyFile.trim().split(":")[1]);
  }, 120_000);

  it("refuses a file that is not a JSON array with a clear message", async () => {
    const file = path.join(dataDir, "object.json");
    await writeFile(file, JSON.stringify({ tenantId: "acme" }));
    const answer = await refresca(["channels", "import", file]);
    expect(answer.code).toBe(2);
    expect(answer.stderr).toContain("must hold a JSON array of channels");
  });
});

describe("refresca tenants create", () => {
  it("creates the tenant and prints a new key once; only its hash is stored; a second key replaces the first", async () => {
    const first = await refresca(["tenants", "create", "keyed", "--name", "Keyed Inc"]);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('Created tenant "keyed"');
    const firstKey = first.stdout.trim();
    expect(firstKey).toMatch(/^rk_[A-Za-z0-9_-]{43}$/);
    expect(first.stderr).not.toContain(firstKey);

    const second = await refresca(["tenants", "create", "keyed"]);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain("previous key and that key's sessions no longer work");
    const secondKey = second.stdout.trim();
    expect(secondKey).not.toBe(firstKey);

    const embedded = await ensureEmbeddedPostgres({ dataDir });
    const store = await openStore({ url: embedded.url, migrate: false });
    try {
      const { rows } = await store.connection.pool.query("select * from tenants where id = 'keyed'");
      expect(rows[0]).toMatchObject({ name: "Keyed Inc", api_key_hash: hashApiKey(secondKey) });
      expect(JSON.stringify(rows)).not.toContain(secondKey);
    } finally {
      await store.close();
      await embedded.stop();
    }
  }, 120_000);

  it("refuses an invalid tenant id", async () => {
    const answer = await refresca(["tenants", "create", "not valid"]);
    expect(answer.code).toBe(2);
    expect(answer.stderr).toContain("tenantId: may only contain");
    expect(answer.stdout).toBe("");
  }, 60_000);
});
