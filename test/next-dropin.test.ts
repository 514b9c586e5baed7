// `refresca/next` in a product's own Next.js app: a minimal app in a temporary folder with the packed package
// installed, the product's `app/actions/oauth-refresh.ts` exactly as DESIGN.md shows it, a real `next build`, a real
// `next start`, and real server action requests over HTTP.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refrescaEnvFor } from "../src/simulator";
import { startHarness, type Harness } from "./support/harness";
import { installInto, npmEnv, packedTarball, ROOT } from "./support/package";
import { freePort } from "./support/processes";
import { waitFor } from "./support/wait";

/** The product's server actions: DESIGN.md's file, with the seven others "the same way". */
const ACTIONS_FILE = `"use server";
import { createOAuthRefreshActions } from "refresca/next";
import { refresca } from "@/lib/refresca";   // the product's createRefresca(...)
import { auth } from "@/lib/auth";           // the product's own sign-in
const actions = createOAuthRefreshActions({ refresca, tenantOf: async () => (await auth())?.tenantId ?? null });
export async function refreshChannelToken(input: unknown) { return actions.refreshChannelToken(input); }
export async function refreshMultipleChannelTokens(input: unknown) { return actions.refreshMultipleChannelTokens(input); }
export async function getChannelsNeedingTokenRefresh(input: unknown) { return actions.getChannelsNeedingTokenRefresh(input); }
export async function scheduleChannelTokenRefresh(input: unknown) { return actions.scheduleChannelTokenRefresh(input); }
export async function scheduleRecurringTokenRefresh(input: unknown) { return actions.scheduleRecurringTokenRefresh(input); }
export async function cancelRecurringTokenRefresh(input: unknown) { return actions.cancelRecurringTokenRefresh(input); }
export async function getTokenRefreshJobsStatus(input: unknown) { return actions.getTokenRefreshJobsStatus(input); }
export async function getRefreshStatistics(input: unknown) { return actions.getRefreshStatistics(input); }
`;

const FILES: Record<string, string> = {
  "app/actions/oauth-refresh.ts": ACTIONS_FILE,
  "lib/refresca.ts": `import { createRefresca } from "refresca";

// Created on the first action, not while \`next build\` loads this module.
export const refresca = () =>
  createRefresca({
    databaseUrl: process.env.DATABASE_URL!,
    encryptionKeys: process.env.REFRESCA_ENCRYPTION_KEYS!,
    redisUrl: process.env.REDIS_URL,
    schema: process.env.REFRESCA_DB_SCHEMA,
    keyPrefix: process.env.REFRESCA_KEY_PREFIX,
    endpoints: { tiktokApiUrl: process.env.TIKTOK_API_URL },
    apps: { tiktok: { clientKey: process.env.TIKTOK_CLIENT_KEY!, clientSecret: process.env.TIKTOK_CLIENT_SECRET! } },
  });
`,
  "lib/auth.ts": `import { cookies } from "next/headers";

// Stands in for the product's sign-in: the signed-in user's tenant is the "tenant" cookie.
export async function auth(): Promise<{ tenantId: string } | null> {
  const tenantId = (await cookies()).get("tenant")?.value;
  return tenantId ? { tenantId } : null;
}
`,
  "app/layout.tsx": `export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
`,
  "app/page.tsx": `import { TokenPanel } from "./token-panel";

export default function Page() {
  return <TokenPanel tenantId="acme" channelId="tiktok-1" />;
}
`,
  "app/token-panel.tsx": `"use client";
import { useState } from "react";
import { getRefreshStatistics, refreshChannelToken } from "@/app/actions/oauth-refresh";

export function TokenPanel({ tenantId, channelId }: { tenantId: string; channelId: string }) {
  const [answer, setAnswer] = useState("");
  return (
    <div>
      <button onClick={async () => setAnswer(JSON.stringify(await getRefreshStatistics({ tenantId })))}>Statistics</button>
      <button onClick={async () => setAnswer(JSON.stringify(await refreshChannelToken({ tenantId, channelId })))}>Refresh</button>
      <pre>{answer}</pre>
    </div>
  );
}
`,
  "tsconfig.json": JSON.stringify(
    {
      compilerOptions: {
        target: "ES2022",
        lib: ["dom", "dom.iterable", "esnext"],
        strict: true,
        noEmit: true,
        module: "esnext",
        moduleResolution: "bundler",
        jsx: "react-jsx",
        isolatedModules: true,
        skipLibCheck: true,
        esModuleInterop: true,
        resolveJsonModule: true,
        paths: { "@/*": ["./*"] },
      },
      include: ["**/*.ts", "**/*.tsx"],
      exclude: ["node_modules"],
    },
    null,
    2,
  ),
  "package.json": JSON.stringify({ name: "product-app", private: true }),
};

let app: string;
let h: Harness;
let server: ChildProcess | undefined;
let baseUrl: string;
let serverOutput = "";
let tenantA: string;
let tenantB: string;
let channelA: { id: string };
let channelB: { id: string };

/** Runs a command in the app and fails with its output. */
function runIn(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${args.join(" ")} ended with ${signal ?? `exit code ${code}`}:\n${output}`));
    });
  });
}

/** Calls a server action as the browser does: POST with its id in `Next-Action`; the answer is in React's flight rows. */
async function callAction(exportedName: string, input: unknown, tenantCookie?: string): Promise<Record<string, unknown>> {
  const manifest = JSON.parse(await readFile(path.join(app, ".next/server/server-reference-manifest.json"), "utf8")) as {
    node: Record<string, { exportedName: string; filename: string }>;
  };
  const actionId = Object.entries(manifest.node).find(
    ([, entry]) => entry.exportedName === exportedName && entry.filename === "app/actions/oauth-refresh.ts",
  )?.[0];
  if (!actionId) throw new Error(`no server action ${exportedName} in the build`);
  const response = await fetch(`${baseUrl}/`, {
    method: "POST",
    headers: {
      "next-action": actionId,
      "content-type": "text/plain;charset=UTF-8",
      accept: "text/x-component",
      ...(tenantCookie && { cookie: `tenant=${tenantCookie}` }),
    },
    body: JSON.stringify([input]),
  });
  const text = await response.text();
  for (const line of text.split("\n")) {
    const json = line.slice(line.indexOf(":") + 1);
    if (!json.startsWith("{")) continue;
    const value = JSON.parse(json) as Record<string, unknown>;
    if ("success" in value) return value;
  }
  throw new Error(`no action answer (HTTP ${response.status}) in: ${text.slice(0, 500)}`);
}

beforeAll(async () => {
  const [tarball, harness] = await Promise.all([packedTarball(), startHarness()]);
  h = harness;
  tenantA = h.tenant();
  tenantB = h.tenant();
  channelA = await h.addChannel({ tenantId: tenantA, platform: "tiktok", expiresInSeconds: 600 });
  await h.addChannel({ tenantId: tenantA, platform: "facebook", expiresInSeconds: 3000 });
  channelB = await h.addChannel({ tenantId: tenantB, platform: "tiktok", expiresInSeconds: 600 });

  app = await mkdtemp(path.join(tmpdir(), "refresca-next-app-"));
  for (const [file, text] of Object.entries(FILES)) {
    await mkdir(path.dirname(path.join(app, file)), { recursive: true });
    await writeFile(path.join(app, file), text);
  }
  // The product's own Next.js, at the versions Refresca's app is built and tested with (npm's cache has them).
  const { devDependencies: dev } = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
  const own = ["next", "react", "react-dom", "typescript", "@types/react", "@types/node"].map((name) => `${name}@${dev[name]}`);
  await installInto(app, tarball, own);

  const next = path.join(app, "node_modules", "next", "dist", "bin", "next");
  await runIn([next, "build"], npmEnv({ NODE_ENV: "production" }), 600_000);

  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const { options } = h;
  const env = npmEnv({
    NODE_ENV: "production",
    DATABASE_URL: options.databaseUrl,
    REFRESCA_ENCRYPTION_KEYS: options.encryptionKeys,
    REDIS_URL: options.redisUrl,
    REFRESCA_DB_SCHEMA: options.schema,
    REFRESCA_KEY_PREFIX: options.keyPrefix,
    ...refrescaEnvFor(h.simulator.url),
  });
  server = spawn(process.execPath, [next, "start", "-p", String(port), "-H", "127.0.0.1"], { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] });
  server.stdout!.on("data", (chunk) => (serverOutput += chunk));
  server.stderr!.on("data", (chunk) => (serverOutput += chunk));
  await waitFor(
    "next start to answer",
    async () => {
      if (server!.exitCode !== null) throw new Error(`next start exited:\n${serverOutput}`);
      return (await fetch(baseUrl).catch(() => undefined))?.ok;
    },
    60_000,
  );
}, 1_200_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  }
  await h?.close();
  if (app) await rm(app, { recursive: true, force: true });
});

describe("refresca/next in a product's Next.js app (next build, next start)", () => {
  it("answers the signed-in tenant's getRefreshStatistics", async () => {
    const answer = await callAction("getRefreshStatistics", { tenantId: tenantA }, tenantA);
    expect(answer).toMatchObject({ success: true, statistics: { totalChannels: 2, channelsWithRefreshToken: 2, needsReauth: 0 } });
  });

  it("answers UNAUTHORIZED without a session", async () => {
    expect(await callAction("getRefreshStatistics", { tenantId: tenantA })).toMatchObject({ success: false, code: "UNAUTHORIZED" });
  });

  it("answers FORBIDDEN to an input naming another tenant, and touches nothing", async () => {
    const callsBefore = (await h.simulator.stats()).totalCalls;
    const [versionBefore] = await h.sql<{ version: number }>("select version from channels where tenant_id = $1 and id = $2", [tenantB, channelB.id]);
    expect(await callAction("getRefreshStatistics", { tenantId: tenantB }, tenantA)).toMatchObject({ success: false, code: "FORBIDDEN" });
    expect(await callAction("refreshChannelToken", { tenantId: tenantB, channelId: channelB.id }, tenantA)).toMatchObject({
      success: false,
      code: "FORBIDDEN",
    });
    expect((await h.simulator.stats()).totalCalls).toBe(callsBefore);
    expect(await h.sql("select version from channels where tenant_id = $1 and id = $2", [tenantB, channelB.id])).toEqual([versionBefore]);
  });

  it("refreshes the signed-in tenant's channel through the platform, and the answer carries no token", async () => {
    const callsBefore = (await h.simulator.stats()).totalCalls;
    const answer = await callAction("refreshChannelToken", { tenantId: tenantA, channelId: channelA.id }, tenantA);
    expect(answer).toMatchObject({ success: true, channelId: channelA.id });
    expect(Object.keys(answer).sort()).toEqual(["channelId", "newExpiresAt", "refreshedAt", "success"]);
    expect((await h.simulator.stats()).totalCalls).toBe(callsBefore + 1);
    expect(await callAction("refreshChannelToken", { tenantId: tenantA }, tenantA)).toMatchObject({ success: false, code: "INVALID_INPUT" });
  });
});
