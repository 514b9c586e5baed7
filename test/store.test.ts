import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, runMigrations, connect, type Store } from "../src/core/store";
import { ensureEmbeddedPostgres, type EmbeddedPostgres } from "../src/core/store/embedded";
import { TEST_DATABASE_URL, uniqueName } from "./env";

interface Server {
  url: string;
  stop(): Promise<void>;
}

/** The same suite runs on the machine's PostgreSQL and on the embedded one (STYLE: one conformance suite). */
const servers: Array<[string, () => Promise<Server>]> = [
  ["the machine's PostgreSQL", async () => ({ url: TEST_DATABASE_URL, stop: async () => {} })],
  [
    "the embedded PostgreSQL",
    async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), "refresca-store-"));
      const embedded: EmbeddedPostgres = await ensureEmbeddedPostgres({ dataDir });
      return {
        url: embedded.url,
        stop: async () => {
          await embedded.stop();
          await rm(dataDir, { recursive: true, force: true });
        },
      };
    },
  ],
];

const write = (tenantId: string, id: string, expiresAt: Date | null, extra: Partial<{ hasRefreshToken: boolean }> = {}) => ({
  tenantId,
  id,
  type: "tiktok" as const,
  displayName: `Channel ${id}`,
  localName: "@x",
  meta: { region: "eu" },
  credentials: "v1.k.iv.ct.tag",
  keyId: "k",
  expiresAt,
  refreshTokenExpiresAt: null,
  hasRefreshToken: extra.hasRefreshToken ?? true,
});

const event = { trigger: "manual", attempt: 1, outcome: "success", durationMs: 5 };

const journal = new URL("../src/core/store/migrations/meta/_journal.json", import.meta.url);
const migrationCount = (JSON.parse(readFileSync(journal, "utf8")) as { entries: unknown[] }).entries.length;

describe.each(servers)("store on %s", (_name, start) => {
  let server: Server;
  let store: Store;
  let schema: string;
  const minutes = (n: number) => new Date(Date.now() + n * 60_000);

  beforeAll(async () => {
    server = await start();
    schema = uniqueName("store");
    store = await openStore({ url: server.url, schema });
  }, 120_000);
  afterAll(async () => {
    await store?.connection.pool.query(`drop schema if exists "${schema}" cascade`);
    await store?.close();
    await server?.stop();
  });

  it("migrates idempotently, also from several processes at once", async () => {
    const others = Array.from({ length: 3 }, () => connect({ url: server.url, schema }));
    try {
      await Promise.all(others.map((connection) => runMigrations(connection)));
      const { rows } = await store.connection.pool.query("select count(*)::int as n from refresca_migrations");
      // One row per migration in the journal, none twice.
      expect(rows[0].n).toBe(migrationCount);
    } finally {
      await Promise.all(others.map((connection) => connection.close()));
    }
  });

  it("creates a channel and its tenant, then replaces it on upsert, bumping the version", async () => {
    const tenantId = uniqueName("t");
    const created = await store.channels.upsert(write(tenantId, "c1", minutes(30)));
    expect(created).toMatchObject({ id: "c1", tenantId, version: 1, status: "active", meta: { region: "eu" } });
    expect(await store.tenants.exists(tenantId)).toBe(true);
    const replaced = await store.channels.upsert({ ...write(tenantId, "c1", undefined as never), displayName: "renamed" });
    expect(replaced).toMatchObject({ version: 2, displayName: "renamed" });
    // An unknown expiry on update keeps the stored one.
    expect(replaced.expiresAt?.getTime()).toBe(created.expiresAt?.getTime());
  });

  it("saves a refresh only against the version it read (compare-and-set)", async () => {
    const tenantId = uniqueName("t");
    const channel = await store.channels.upsert(write(tenantId, "c1", minutes(5)));
    const refresh = { credentials: "v1.k.new", keyId: "k", expiresAt: minutes(120), refreshTokenExpiresAt: null, hasRefreshToken: true };
    expect(await store.channels.saveRefresh(tenantId, "c1", channel.version + 1, refresh, event)).toBeNull();
    const saved = await store.channels.saveRefresh(tenantId, "c1", channel.version, refresh, event);
    expect(saved).toMatchObject({ version: channel.version + 1, lastOutcome: "success" });
    expect(await store.events.recent(tenantId)).toHaveLength(1);
  });

  it("claims a channel for refresh, marking the attempt only when a single-use refresh token will be spent", async () => {
    const tenantId = uniqueName("t");
    await store.channels.upsert(write(tenantId, "due", minutes(5)));
    await store.channels.upsert(write(tenantId, "later", minutes(600)));
    await store.channels.upsert({ ...write(tenantId, "meta", minutes(5)), type: "facebook" });
    const mark = (attemptId: string) => ({ attemptId, platforms: ["tiktok"], dueBy: minutes(60) });
    const marker = async (id: string) => (await store.channels.find(tenantId, id))!.refreshAttemptId;

    const first = await store.channels.claimForRefresh(tenantId, "due", mark("a1"));
    expect(first).toMatchObject({ id: "due", refreshAttemptId: null, type: "tiktok" });
    expect(first!.expiresAt).toBeInstanceOf(Date);
    expect(await marker("due")).toBe("a1");
    // The row returned is the one before the mark: an interrupted attempt is visible to the next one.
    expect((await store.channels.claimForRefresh(tenantId, "due", mark("a2")))!.refreshAttemptId).toBe("a1");

    await store.channels.claimForRefresh(tenantId, "later", mark("b1"));
    expect(await marker("later")).toBeNull();
    await store.channels.claimForRefresh(tenantId, "later", { ...mark("b2"), dueBy: null });
    expect(await marker("later")).toBe("b2");
    await store.channels.claimForRefresh(tenantId, "meta", mark("c1"));
    expect(await marker("meta")).toBeNull();
    expect(await store.channels.claimForRefresh(uniqueName("other"), "due", mark("d1"))).toBeNull();
  });

  it("records a failure, and takes a channel with invalid credentials out of refresh", async () => {
    const tenantId = uniqueName("t");
    await store.channels.upsert(write(tenantId, "c1", minutes(5)));
    const failed = await store.channels.saveFailure(
      tenantId,
      "c1",
      { code: "INVALID_CREDENTIALS", message: "revoked", needsReauth: true },
      { ...event, outcome: "failure", errorCode: "INVALID_CREDENTIALS" },
    );
    expect(failed).toMatchObject({ status: "needs_reauth", failureCount: 1, lastErrorCode: "INVALID_CREDENTIALS" });
    expect(await store.expiry.needingRefresh(tenantId, minutes(60), 100)).toEqual([]);
  });

  it("finds a tenant's channels by expiry, soonest first, and counts them", async () => {
    const tenantId = uniqueName("t");
    const other = uniqueName("t");
    await store.channels.upsert(write(tenantId, "later", minutes(600)));
    await store.channels.upsert(write(tenantId, "soon", minutes(30)));
    await store.channels.upsert(write(tenantId, "expired", minutes(-5), { hasRefreshToken: false }));
    await store.channels.upsert(write(tenantId, "never", null));
    await store.channels.upsert(write(other, "soon", minutes(1)));
    const due = await store.expiry.needingRefresh(tenantId, minutes(60), 100);
    expect(due.map((row) => row.id)).toEqual(["expired", "soon"]);
    const stats = await store.expiry.statistics(tenantId, new Date(), minutes(60));
    expect(stats).toEqual({
      totalChannels: 4,
      channelsNeedingRefresh: 2,
      channelsWithRefreshToken: 3,
      urgentChannels: 1,
      expiredChannels: 1,
      needsReauth: 0,
    });
  });

  it("never reads or removes another tenant's channel", async () => {
    const tenantId = uniqueName("t");
    const other = uniqueName("t");
    await store.channels.upsert(write(tenantId, "shared-id", minutes(30)));
    await store.channels.upsert(write(other, "shared-id", minutes(30)));
    expect(await store.channels.remove(other, "shared-id")).toMatchObject({ tenantId: other, id: "shared-id" });
    expect(await store.channels.find(other, "shared-id")).toBeNull();
    expect(await store.channels.find(tenantId, "shared-id")).not.toBeNull();
    expect((await store.channels.list(tenantId)).map((c) => c.id)).toEqual(["shared-id"]);
  });

  it("keeps each installation in its own schema", async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const { rows } = await client.query("select table_schema from information_schema.tables where table_name = 'channels' and table_schema = $1", [schema]);
      expect(rows).toHaveLength(1);
    } finally {
      await client.end();
    }
  });
});
