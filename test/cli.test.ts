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
import { TEST_REDIS_URL, uniqueName } from "./env";
import { deleteKeys } from "./support/harness";

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
