import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKeyOperations } from "../src/core/access/api-key-operations";
import { hashApiKey } from "../src/core/access/api-keys";
import { createLogger } from "../src/core/logger";
import { openStore } from "../src/core/store";
import { ensureEmbeddedPostgres } from "../src/core/store/embedded";
import { createRefrescaFromEnv } from "../src/from-env";
import { createRefresca } from "../src/refresca";
import { startSimulator, type Simulator } from "../src/simulator";
import { PLATFORMS } from "../src/core/types";
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from "./env";
import { ACME, deleteKeys, TEST_KEYS } from "./support/harness";
import pg from "pg";

const run = promisify(execFile);
let dataDir: string;
/** The CLI's Redis keys (BullMQ's queue metadata among them) under a prefix of this file's own, deleted at the end. */
const keyPrefix = `${uniqueName("cli")}:`;

/** The CLI as a user runs it: no DATABASE_URL, so the embedded PostgreSQL in the data folder. */
async function refresca(args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, REFRESCA_DATA_DIR: dataDir, REDIS_URL: TEST_REDIS_URL, REFRESCA_KEY_PREFIX: keyPrefix, LOG_LEVEL: "info" };
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
  await deleteKeys(keyPrefix);
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

describe("refresca api-keys", () => {
  it("create prints the key once on stdout, list never shows it, revoke ends it", async () => {
    const created = await refresca(["api-keys", "create", "--name", "Backend", "--tenant", "acme", "--scopes", "channels:read,tokens:read"]);
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^rka_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain("shown only this once");
    expect(created.stderr).not.toContain(key);
    const id = /API key (key_[0-9a-f]{12})/.exec(created.stderr)?.[1];
    expect(id).toBeDefined();

    const everyTenant = await refresca(["api-keys", "create", "--name", "Everything"]);
    expect(everyTenant.code).toBe(0);
    expect(everyTenant.stderr).toContain("for every tenant");
    expect(everyTenant.stderr).not.toContain("tokens:read");

    const table = await refresca(["api-keys", "list"]);
    expect(table.code).toBe(0);
    for (const text of [id!, "Backend", "Everything", "all tenants", "channels:read,tokens:read"]) expect(table.stdout).toContain(text);
    const listed = await refresca(["api-keys", "list", "--tenant", "acme", "--json"]);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ id, name: "Backend", tenantId: "acme", scopes: ["channels:read", "tokens:read"], revokedAt: null }),
    ]);
    for (const output of [table.stdout, table.stderr, listed.stdout, listed.stderr]) {
      expect(output).not.toContain(key.slice(4));
      expect(output).not.toContain(hashApiKey(key));
    }

    // The printed key is the one the REST API accepts.
    const embedded = await ensureEmbeddedPostgres({ dataDir });
    const store = await openStore({ url: embedded.url, migrate: false });
    try {
      const operations = createApiKeyOperations({ store, logger: createLogger({ level: "silent" }) });
      expect(await operations.authenticate(key)).toMatchObject({ keyId: id, tenantId: "acme" });
      await operations.close();
    } finally {
      await store.close();
      await embedded.stop();
    }

    const revoked = await refresca(["api-keys", "revoke", id!]);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked API key ${id}.\n` });
    const after = await refresca(["api-keys", "list", "--tenant", "acme", "--json"]);
    expect(JSON.parse(after.stdout)[0].revokedAt).toEqual(expect.any(String));
    const again = await refresca(["api-keys", "revoke", id!]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("NOT_FOUND");
  }, 180_000);

  it("refuses an unknown scope, naming it, with exit code 2 and nothing on stdout", async () => {
    const answer = await refresca(["api-keys", "create", "--name", "Bad", "--scopes", "channels:read,everything"]);
    expect(answer.code).toBe(2);
    expect(answer.stderr).toContain('unknown scope "everything"');
    expect(answer.stdout).toBe("");
    const listed = await refresca(["api-keys", "list", "--json"]);
    expect(JSON.parse(listed.stdout).map((k: { name: string }) => k.name)).not.toContain("Bad");
  }, 120_000);
});

describe("refresca audit", () => {
  it("prints the token reads another process recorded, per reader and minute, never the token", async () => {
    // The reading process writes its counts as it closes; the command only reads the table.
    const keyPrefix = `${uniqueName("cli")}:`;
    // The embedded database of the data folder the commands use, whatever this process's environment says.
    const reader = await createRefrescaFromEnv({ dataDir, redisUrl: TEST_REDIS_URL, keyPrefix, logger: createLogger({ level: "silent" }) }, {});
    const accessToken = "plain-access-audited";
    try {
      const saved = await reader.channels.upsert({
        tenantId: "audited",
        id: "tt-audit",
        type: "tiktok",
        displayName: "Audited",
        accessToken,
        refreshToken: "plain-refresh-audited",
        expiresAt: "2030-01-01T00:00:00Z",
      });
      expect(saved.success).toBe(true);
      for (let i = 0; i < 3; i++) await reader.getAccessToken({ tenantId: "audited", channelId: "tt-audit" });
      for (let i = 0; i < 2; i++) await reader.getAccessToken({ tenantId: "audited", channelId: "tt-audit" }, { reader: "key_cli" });
    } finally {
      await reader.close();
      await deleteKeys(keyPrefix);
    }

    const json = await refresca(["audit", "--tenant", "audited", "--json"]);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as Array<{ channelId: string; reader: string; minute: string; reads: number; refreshed: number }>;
    const total = (name: string) => rows.filter((row) => row.reader === name).reduce((sum, row) => sum + row.reads, 0);
    expect(total("library")).toBe(3);
    expect(total("key_cli")).toBe(2);
    expect(rows.every((row) => row.channelId === "tt-audit" && row.refreshed === 0)).toBe(true);

    const table = await refresca(["audit", "--tenant", "audited", "--channel", "tt-audit", "--limit", "10"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("key_cli");
    expect(table.stdout).toContain("library");
    const other = await refresca(["audit", "--tenant", "audited", "--channel", "another"]);
    expect(other.stdout).toContain("No token reads recorded for tenant audited.");
    const unknown = await refresca(["audit", "--tenant", "nobody"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("NOT_FOUND");
    for (const output of [json, table, other, unknown]) expect(output.stdout + output.stderr).not.toContain(accessToken);
  }, 120_000);
});

describe("refresca channels import with a provider configured by REFRESCA_PROVIDERS_FILE", () => {
  // The machine's PostgreSQL in a schema of its own (not the embedded default): each run starts empty.
  const schema = uniqueName("cli");
  const keyPrefix = `${uniqueName("cli")}:`;
  let sim: Simulator;
  let pool: pg.Pool;
  let providersFile: string;

  /** The CLI with the test's database, keys and Redis; `extra` sets (or, with undefined, unsets) more variables. */
  async function cli(args: string[], extra: Record<string, string | undefined> = {}) {
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !/^(REFRESCA_|META_|TIKTOK_|INSTAGRAM_|ACME_|DATABASE_URL$|REDIS_URL$|LOG_LEVEL$)/.test(name)),
    );
    Object.assign(env, {
      DATABASE_URL: TEST_DATABASE_URL,
      REFRESCA_DB_SCHEMA: schema,
      REFRESCA_KEY_PREFIX: keyPrefix,
      REFRESCA_ENCRYPTION_KEYS: TEST_KEYS,
      REDIS_URL: TEST_REDIS_URL,
      LOG_LEVEL: "info",
    });
    for (const [name, value] of Object.entries(extra)) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
    try {
      const { stdout, stderr } = await run(process.execPath, ["bin/refresca.js", ...args], { env });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }
  const withAcme = { REFRESCA_PROVIDERS_FILE: "", ACME_CLIENT_ID: ACME.clientId, ACME_CLIENT_SECRET: ACME.clientSecret };
  const channel = (tenantId: string, id: string, type: string, tokens: { accessToken: string; refreshToken: string; expiresAt: string }) => ({
    tenantId,
    id,
    type,
    displayName: `${type} ${id}`,
    ...tokens,
  });
  const stored = async (tenantId: string) =>
    (await pool.query("select id, type, credentials from channels where tenant_id = $1 order by id", [tenantId])).rows;

  beforeAll(async () => {
    sim = await startSimulator({ oauth2: { [ACME.id]: { clientId: ACME.clientId, clientSecret: ACME.clientSecret, rotate: true } } });
    pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2, options: `-c search_path=${schema}` });
    providersFile = path.join(dataDir, "providers.json");
    await writeFile(
      providersFile,
      JSON.stringify({
        providers: [
          {
            id: ACME.id,
            displayName: ACME.displayName,
            tokenUrl: sim.oauth2.tokenUrl(ACME.id),
            clientIdEnv: "ACME_CLIENT_ID",
            clientSecretEnv: "ACME_CLIENT_SECRET",
            rotatesRefreshToken: true,
          },
        ],
      }),
    );
    withAcme.REFRESCA_PROVIDERS_FILE = providersFile;
  });
  afterAll(async () => {
    await sim?.close();
    await pool?.query(`drop schema if exists "${schema}" cascade`);
    await pool?.end();
    await deleteKeys(keyPrefix);
  });

  it("imports an acme channel, lists it as type acme without its tokens, and the imported tokens refresh at the provider", async () => {
    const tenantId = uniqueName("tenant");
    const acmeTokens = sim.oauth2.issue(ACME.id);
    const file = path.join(dataDir, "acme-channels.json");
    await writeFile(
      file,
      JSON.stringify([
        channel(tenantId, "acme-1", ACME.id, acmeTokens),
        channel(tenantId, "tt-1", "tiktok", { accessToken: "plain-cli-access-tt", refreshToken: "plain-cli-refresh-tt", expiresAt: "2030-01-01T00:00:00Z" }),
      ]),
    );
    const imported = await cli(["channels", "import", file], withAcme);
    expect(imported.stdout).toContain("2 channel(s) imported, 0 refused.");
    expect(imported.code).toBe(0);

    const listed = await cli(["channels", "list", "--tenant", tenantId, "--json"], withAcme);
    expect(listed.code).toBe(0);
    const channels = JSON.parse(listed.stdout) as Array<{ id: string; type: string; hasRefreshToken: boolean }>;
    expect(channels.map((c) => [c.id, c.type, c.hasRefreshToken])).toEqual([
      ["acme-1", ACME.id, true],
      ["tt-1", "tiktok", true],
    ]);
    const rows = await stored(tenantId);
    for (const output of [imported.stdout, imported.stderr, listed.stdout, listed.stderr, JSON.stringify(rows)]) {
      expect(output).not.toContain(acmeTokens.accessToken);
      expect(output).not.toContain(acmeTokens.refreshToken);
      expect(output).not.toContain(ACME.clientSecret);
    }

    // The same database, keys and provider in a library instance: the imported acme channel refreshes at the
    // simulator with the refresh token the file held.
    const refresca = await createRefresca({
      databaseUrl: TEST_DATABASE_URL,
      schema,
      redisUrl: TEST_REDIS_URL,
      keyPrefix,
      encryptionKeys: TEST_KEYS,
      logger: createLogger({ level: "silent" }),
      providers: [{ id: ACME.id, tokenUrl: sim.oauth2.tokenUrl(ACME.id), clientId: ACME.clientId, clientSecret: ACME.clientSecret, rotatesRefreshToken: true }],
    });
    try {
      expect(await refresca.refreshChannelToken({ tenantId, channelId: "acme-1" })).toMatchObject({ success: true, channelId: "acme-1" });
      expect(sim.oauth2.stats().callsForToken(acmeTokens.refreshToken)).toBe(1);
    } finally {
      await refresca.close();
    }
  }, 120_000);

  it("providers: each type with its source, app credentials and channels; exit 1 when channels cannot be refreshed", async () => {
    const tenantId = uniqueName("tenant");
    const file = path.join(dataDir, "providers-report.json");
    await writeFile(file, JSON.stringify([channel(tenantId, "acme-report", ACME.id, sim.oauth2.issue(ACME.id))]));
    expect((await cli(["channels", "import", file], withAcme)).code).toBe(0);
    type Report = {
      platforms: Array<{ type: string; source: string; appCredentials: string; channels: number; active: number }>;
      unconfigured: Array<{ type: string; channels: number }>;
    };
    const tiktok = { TIKTOK_CLIENT_KEY: "report-key", TIKTOK_CLIENT_SECRET: "report-secret" };

    // Everything refreshable: exit 0.
    const healthy = await cli(["providers", "--json"], { ...withAcme, ...tiktok, META_APP_ID: "1", META_APP_SECRET: "s" });
    expect(healthy.code, healthy.stderr).toBe(0);
    const report = JSON.parse(healthy.stdout) as Report;
    expect(report.platforms.map((row) => row.type)).toEqual([...PLATFORMS, ACME.id]);
    expect(report.platforms.find((row) => row.type === ACME.id)).toMatchObject({ source: "configured", appCredentials: "set" });
    expect(report.platforms.find((row) => row.type === ACME.id)!.channels).toBeGreaterThanOrEqual(1);
    expect(report.platforms.find((row) => row.type === "threads")).toMatchObject({ source: "built-in", appCredentials: "not needed" });
    expect(report.unconfigured).toEqual([]);

    // The acme secret unset: its channels cannot be refreshed, and the message names the variables.
    const missing = await cli(["providers"], { ...withAcme, ...tiktok, META_APP_ID: "1", META_APP_SECRET: "s", ACME_CLIENT_SECRET: undefined });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/Acme Social: \d+ channel\(s\) cannot be refreshed until ACME_CLIENT_ID and ACME_CLIENT_SECRET are set/);

    // The providers file gone: acme channels are of a type this deployment does not refresh.
    const orphaned = await cli(["providers", "--json"], { ...tiktok, META_APP_ID: "1", META_APP_SECRET: "s" });
    expect(orphaned.code).toBe(1);
    expect((JSON.parse(orphaned.stdout) as Report).unconfigured).toEqual([expect.objectContaining({ type: ACME.id })]);
    for (const output of [healthy, missing, orphaned].flatMap((answer) => [answer.stdout, answer.stderr])) {
      expect(output).not.toContain(ACME.clientSecret);
      expect(output).not.toContain("report-secret");
    }
  }, 120_000);

  it("without the providers file, refuses every acme entry naming it, its type and the allowed types; imports nothing of them", async () => {
    const tenantId = uniqueName("tenant");
    const file = path.join(dataDir, "acme-only.json");
    await writeFile(
      file,
      JSON.stringify([channel(tenantId, "acme-1", ACME.id, sim.oauth2.issue(ACME.id)), channel(tenantId, "acme-2", ACME.id, sim.oauth2.issue(ACME.id))]),
    );
    const refused = await cli(["channels", "import", file], { ACME_CLIENT_ID: ACME.clientId, ACME_CLIENT_SECRET: ACME.clientSecret });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("0 channel(s) imported, 2 refused.");
    for (const index of [0, 1]) {
      expect(refused.stdout).toContain(`entry ${index}: type: must be one of ${PLATFORMS.join(", ")}; got "${ACME.id}"`);
    }
    expect(await stored(tenantId)).toEqual([]);
    expect((await pool.query("select id from tenants where id = $1", [tenantId])).rows).toEqual([]);

    // Import validates each entry on its own (it is not all-or-nothing): in a mixed file the built-in entry is
    // imported, and only the acme one is refused.
    const mixed = path.join(dataDir, "mixed.json");
    const mixedTenant = uniqueName("tenant");
    await writeFile(
      mixed,
      JSON.stringify([
        channel(mixedTenant, "tt-1", "tiktok", { accessToken: "plain-cli-access-2", refreshToken: "plain-cli-refresh-2", expiresAt: "2030-01-01T00:00:00Z" }),
        channel(mixedTenant, "acme-1", ACME.id, sim.oauth2.issue(ACME.id)),
      ]),
    );
    const partly = await cli(["channels", "import", mixed]);
    expect(partly.code).toBe(1);
    expect(partly.stdout).toContain("1 channel(s) imported, 1 refused.");
    expect(partly.stdout).toContain(`entry 1: type: must be one of ${PLATFORMS.join(", ")}; got "${ACME.id}"`);
    expect((await stored(mixedTenant)).map((row) => [row.id, row.type])).toEqual([["tt-1", "tiktok"]]);
    expect(partly.stdout + partly.stderr).not.toMatch(/simo2_|plain-cli/);
  }, 120_000);
});
