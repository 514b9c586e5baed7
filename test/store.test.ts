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
  // Planned at expiry, for these tests: what the plan is computed from is src/core/plan.ts's business.
  nextRefreshAt: (extra.hasRefreshToken ?? true) ? expiresAt : null,
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

  /** Claims the channel for an attempt (as a refresh does under its lock), whatever is due. */
  const claim = (tenantId: string, id: string, attemptId: string, extra: Partial<Parameters<Store["channels"]["claimForRefresh"]>[2]> = {}) =>
    store.channels.claimForRefresh(tenantId, id, { attemptId, ifExpiresBy: null, version: null, fallbackPlan: minutes(2), force: false, ...extra });
  const failure = (attemptId: string, extra: Partial<Parameters<Store["channels"]["saveFailure"]>[2]> = {}) => ({
    code: "PLATFORM_UNAVAILABLE",
    message: "down",
    needsReauth: false,
    failing: true,
    attemptId,
    nextRefreshAt: minutes(1),
    notBefore: null,
    appNotBefore: null,
    appPlatforms: [],
    ...extra,
  });

  it("saves a refresh only against the version it read and while it holds the claim (compare-and-set on both)", async () => {
    const tenantId = uniqueName("t");
    const channel = await store.channels.upsert(write(tenantId, "c1", minutes(5)));
    await claim(tenantId, "c1", "a1");
    const refresh = { credentials: "v1.k.new", keyId: "k", expiresAt: minutes(120), refreshTokenExpiresAt: null, hasRefreshToken: true };
    const fence = { attemptId: "a1", nextRefreshAt: minutes(110) };
    expect(await store.channels.saveRefresh(tenantId, "c1", channel.version + 1, refresh, event, fence)).toBeNull();
    expect(await store.channels.saveRefresh(tenantId, "c1", channel.version, refresh, event, { ...fence, attemptId: "other" })).toBeNull();
    const saved = await store.channels.saveRefresh(tenantId, "c1", channel.version, refresh, event, fence);
    expect(saved).toMatchObject({ version: channel.version + 1, lastOutcome: "success", nextRefreshAt: fence.nextRefreshAt, failingSince: null });
    expect(await store.events.recent(tenantId)).toHaveLength(1);
    // The claim is spent: the same attempt cannot write twice.
    expect(await store.channels.saveRefresh(tenantId, "c1", saved!.version, refresh, event, fence)).toBeNull();
  });

  it("claims a channel for an attempt, with a fallback plan, only when due, at the plan's version and not throttled", async () => {
    const tenantId = uniqueName("t");
    const due = await store.channels.upsert(write(tenantId, "due", minutes(5)));
    await store.channels.upsert(write(tenantId, "later", minutes(600)));
    await store.channels.upsert({ ...write(tenantId, "meta", minutes(5)), type: "facebook" });
    const row = async (id: string) => (await store.channels.find(tenantId, id))!;

    const first = await claim(tenantId, "due", "a1", { ifExpiresBy: minutes(60), fallbackPlan: minutes(2) });
    expect(first).toMatchObject({ id: "due", refreshAttemptId: null, type: "tiktok", claimed: true, throttledUntil: null });
    expect(first!.expiresAt).toBeInstanceOf(Date);
    expect(await row("due")).toMatchObject({ refreshAttemptId: "a1" });
    // The fallback plan: the channel comes due again if this attempt never writes its outcome.
    expect(Math.abs((await row("due")).nextRefreshAt!.getTime() - minutes(2).getTime())).toBeLessThan(5000);
    // The row returned is the one before the mark: an interrupted attempt is visible to the next one.
    expect((await claim(tenantId, "due", "a2"))!.refreshAttemptId).toBe("a1");

    expect(await claim(tenantId, "later", "b1", { ifExpiresBy: minutes(60) })).toMatchObject({ claimed: false });
    expect((await row("later")).refreshAttemptId).toBeNull();
    expect(await claim(tenantId, "later", "b2")).toMatchObject({ claimed: true });
    // Every platform is claimed: the attempt id fences every outcome.
    expect(await claim(tenantId, "meta", "c1", { ifExpiresBy: minutes(60) })).toMatchObject({ claimed: true });
    expect(await claim(tenantId, "due", "v1", { version: due.version + 5 })).toMatchObject({ claimed: false });
    expect(await claim(uniqueName("other"), "due", "d1")).toBeNull();

    await store.connection.pool.query("update channels set not_before = now() + interval '1 minute' where tenant_id = $1 and id = 'later'", [tenantId]);
    const throttled = await claim(tenantId, "later", "t1");
    expect(throttled).toMatchObject({ claimed: false });
    expect(throttled!.throttledUntil!.getTime()).toBeGreaterThan(Date.now());
    // Tokens waiting to be saved are claimed anyway.
    expect(await claim(tenantId, "later", "t2", { force: true })).toMatchObject({ claimed: true });

    // An expiry written in SQL carries microseconds; "due by" the expiry as read (milliseconds) is due.
    await store.connection.pool.query("update channels set expires_at = now() + interval '5 minutes' where tenant_id = $1 and id = 'due'", [tenantId]);
    const read = (await row("due")).expiresAt!;
    expect(await claim(tenantId, "due", "m1", { ifExpiresBy: read })).toMatchObject({ claimed: true });
  });

  it("records a failure with its plan, and takes a channel with invalid credentials out of refresh", async () => {
    const tenantId = uniqueName("t");
    await store.channels.upsert(write(tenantId, "c1", minutes(5)));
    await claim(tenantId, "c1", "a1");
    const failed = await store.channels.saveFailure(
      tenantId,
      "c1",
      failure("a1", { code: "INVALID_CREDENTIALS", message: "revoked", needsReauth: true, nextRefreshAt: null }),
      { ...event, outcome: "failure", errorCode: "INVALID_CREDENTIALS" },
    );
    expect(failed).toMatchObject({ status: "needs_reauth", failureCount: 1, lastErrorCode: "INVALID_CREDENTIALS", nextRefreshAt: null });
    expect(failed!.failingSince).toBeInstanceOf(Date);
    expect(await store.expiry.needingRefresh(tenantId, minutes(60), 100)).toEqual([]);
  });

  it("writes no failure for an attempt whose claim a reconnect cleared", async () => {
    const tenantId = uniqueName("t");
    await store.channels.upsert(write(tenantId, "c1", minutes(5)));
    await claim(tenantId, "c1", "a1");
    await store.channels.upsert({ ...write(tenantId, "c1", minutes(90)), credentials: "v1.k.reconnected" });
    const missed = await store.channels.saveFailure(tenantId, "c1", failure("a1", { needsReauth: true }), { ...event, outcome: "failure" });
    expect(missed).toBeNull();
    expect(await store.channels.find(tenantId, "c1")).toMatchObject({ status: "active", failureCount: 0 });
    expect(await store.events.recent(tenantId)).toHaveLength(0);
  });

  it("holds every platform of an app throttled as a whole", async () => {
    const tenantId = uniqueName("t");
    await store.channels.upsert({ ...write(tenantId, "fb", minutes(5)), type: "facebook" });
    await store.channels.upsert({ ...write(tenantId, "ig", minutes(5)), type: "instagram" });
    await claim(tenantId, "fb", "a1");
    const until = minutes(3);
    await store.channels.saveFailure(
      tenantId,
      "fb",
      failure("a1", { code: "RATE_LIMITED", notBefore: until, appNotBefore: until, appPlatforms: ["facebook", "instagram"], nextRefreshAt: until }),
      { ...event, outcome: "failure" },
    );
    const other = await claim(tenantId, "ig", "b1");
    expect(other).toMatchObject({ claimed: false });
    expect(Math.abs(other!.throttledUntil!.getTime() - until.getTime())).toBeLessThan(2);
  });

  it("lets one scheduler claim each due channel once, a lease ahead, and counts the channels without a plan", async () => {
    // Its own schema: the claim and the health check look at every tenant's channels.
    const own = await openStore({ url: server.url, schema: uniqueName("plans") });
    try {
      const tenantId = uniqueName("t");
      await own.channels.upsert(write(tenantId, "due", minutes(1)));
      await own.channels.upsert(write(tenantId, "overdue", minutes(-10)));
      await own.channels.upsert(write(tenantId, "later", minutes(600)));
      await own.channels.upsert(write(tenantId, "never", null));
      const [a, b] = await Promise.all([own.plans.claimDue(120_000, 300_000, 10), own.plans.claimDue(120_000, 300_000, 10)]);
      const claimed = [...a, ...b].map((c) => c.id).sort();
      expect(claimed).toEqual(["due", "overdue"]);
      expect(await own.plans.claimDue(120_000, 300_000, 10)).toEqual([]);
      const leased = (await own.channels.find(tenantId, "due"))!.nextRefreshAt!.getTime();
      expect(leased).toBeGreaterThan(minutes(5).getTime());
      // Given back (their jobs could not be queued): claimed again at once.
      await own.plans.release([...a, ...b]);
      expect((await own.plans.claimDue(120_000, 300_000, 10)).map((c) => c.id).sort()).toEqual(["due", "overdue"]);

      expect(await own.plans.countUnplanned(60_000)).toBe(0);
      await own.connection.pool.query("update channels set next_refresh_at = null where id = 'later'");
      await own.connection.pool.query("update channels set next_refresh_at = now() - interval '1 hour' where id = 'due'");
      expect(await own.plans.countUnplanned(60_000)).toBe(2);
      expect((await own.plans.unplanned(60_000, 10)).map((c) => c.id).sort()).toEqual(["due", "later"]);
    } finally {
      await own.connection.pool.query(`drop schema if exists "${own.connection.schema}" cascade`);
      await own.close();
    }
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
