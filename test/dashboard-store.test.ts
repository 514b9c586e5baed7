import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenantOperations } from "../src/core/access/tenants";
import { hashApiKey, looksLikeApiKey, secretsEqual } from "../src/core/access/api-keys";
import { createDashboardQueries } from "../src/core/dashboard";
import { createLogger } from "../src/core/logger";
import { openStore, type Store } from "../src/core/store";
import { TEST_DATABASE_URL, uniqueName } from "./env";

const logger = createLogger({ level: "silent" });
let store: Store;
let schema: string;
let pool: pg.Pool;
const BIG = "big-tenant";
const now = new Date();
const minutes = (n: number) => new Date(now.getTime() + n * 60_000);

beforeAll(async () => {
  schema = uniqueName("dash");
  store = await openStore({ url: TEST_DATABASE_URL, schema });
  pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2, options: `-c search_path=${schema}` });
  // 10,000 channels in one tenant and 20,000 in others, inserted in bulk.
  await pool.query(`insert into tenants (id, name) select 't' || g, 't' || g from generate_series(0, 19) g`);
  await pool.query(`insert into tenants (id, name) values ($1, 'Big')`, [BIG]);
  await pool.query(
    `insert into channels (tenant_id, id, type, display_name, local_name, credentials, key_id, expires_at, has_refresh_token, status)
     select case when g <= 10000 then $1 else 't' || (g % 20) end, 'ch' || lpad(g::text, 5, '0'),
            (array['tiktok','facebook','instagram','whatsapp'])[1 + g % 4], 'Channel ' || md5(g::text), '@h' || g,
            'v1.k.iv.ct.tag', 'k', case when g % 100 = 0 then null else $2::timestamptz + (g % 5000 - 10) * interval '10 minutes' end,
            true, case when g % 50 = 0 then 'needs_reauth' else 'active' end
       from generate_series(1, 30000) g`,
    [BIG, now],
  );
  await pool.query("analyze channels");
}, 120_000);

afterAll(async () => {
  await store.close();
  await pool.query(`drop schema if exists "${schema}" cascade`);
  await pool.end();
});

describe("the channel list of a tenant with 10,000 channels", () => {
  it("pages in SQL with the total count, sorted by expiry with never-expiring tokens last", async () => {
    const first = await store.listing.page(BIG, { limit: 50, offset: 0 });
    expect(first.total).toBe(10_000);
    expect(first.rows).toHaveLength(50);
    const expiries = first.rows.map((row) => row.expiresAt!.getTime());
    expect(expiries).toEqual([...expiries].sort((a, b) => a - b));
    const last = await store.listing.page(BIG, { limit: 50, offset: 9_950 });
    expect(last.rows.at(-1)!.expiresAt).toBeNull();
    // Pages do not overlap, whatever the ties.
    const second = await store.listing.page(BIG, { limit: 50, offset: 50 });
    expect(new Set([...first.rows, ...second.rows].map((row) => row.id)).size).toBe(100);
  });

  it("filters by platform, status and text, and sorts by name and platform both ways", async () => {
    const tiktok = await store.listing.page(BIG, { type: "tiktok", limit: 10, offset: 0, sort: "displayName", direction: "desc" });
    expect(tiktok.total).toBe(2500);
    expect(tiktok.rows.every((row) => row.type === "tiktok")).toBe(true);
    const names = tiktok.rows.map((row) => row.displayName);
    expect(names).toEqual([...names].sort().reverse());
    const flagged = await store.listing.page(BIG, { status: "needs_reauth", limit: 500, offset: 0 });
    expect(flagged.total).toBe(200);
    const found = await store.listing.page(BIG, { search: "CH00042", limit: 10, offset: 0 });
    expect(found.rows.map((row) => row.id)).toEqual(["ch00042"]);
    // Typed text is matched literally: LIKE wildcards mean nothing.
    expect((await store.listing.page(BIG, { search: "%", limit: 10, offset: 0 })).total).toBe(0);
    const byPlatform = await store.listing.page(BIG, { sort: "type", limit: 3000, offset: 0 });
    expect(byPlatform.rows[0]!.type).toBe("facebook");
    expect(byPlatform.rows.at(-1)!.type).toBe("instagram");
  });

  it("never lists another tenant's channels", async () => {
    const other = await store.listing.page("t3", { limit: 1000, offset: 0, search: "ch" });
    expect(other.total).toBe(1000);
    expect(other.rows.every((row) => Number(row.id.slice(2)) > 10_000)).toBe(true);
  });

  it.each([
    ["expiry", "order by expires_at asc nulls last, id asc", "channels_tenant_expires_idx"],
    ["name", "order by display_name asc, id asc", "channels_tenant_name_idx"],
    ["name, backwards", "order by display_name desc, id desc", "channels_tenant_name_idx"],
    ["platform", "order by type asc, display_name asc, id asc", "channels_tenant_type_name_idx"],
  ])("reads a first page sorted by %s from an index, without sorting the tenant's rows", async (_name, order, index) => {
    const { rows } = await pool.query(`explain select id from channels where tenant_id = $1 ${order} limit 50`, [BIG]);
    const plan = rows.map((row: { "QUERY PLAN": string }) => row["QUERY PLAN"]).join("\n");
    expect(plan).toContain(index);
    expect(plan).not.toMatch(/^\s*->\s+Sort\b|^Sort\b/m);
  });

  it("counts tokens by how soon they expire (cumulative), and those that never do", async () => {
    const horizon = await store.listing.horizon(BIG, now);
    const { rows } = await pool.query(
      `select count(*) filter (where expires_at <= $2)::int as expired,
              count(*) filter (where expires_at > $2 and expires_at <= $2 + interval '1 hour')::int as h1,
              count(*) filter (where expires_at > $2 and expires_at <= $2 + interval '30 days')::int as d30,
              count(*) filter (where expires_at is null)::int as never
         from channels where tenant_id = $1`,
      [BIG, now],
    );
    expect(horizon).toMatchObject({ expired: rows[0].expired, within1h: rows[0].h1, within30d: rows[0].d30, neverExpires: rows[0].never });
    expect(horizon.within1h).toBeLessThanOrEqual(horizon.within24h);
    expect(horizon.within24h).toBeLessThanOrEqual(horizon.within7d);
    expect(horizon.within7d).toBeLessThanOrEqual(horizon.within30d);
    expect(horizon.expired).toBeGreaterThan(0);
  });
});

describe("platforms on the dashboard: built-in, configured and no longer configured types alike", () => {
  const PLATFORMS = [
    { id: "instagram", displayName: "Instagram" },
    { id: "tiktok", displayName: "TikTok" },
    { id: "acme", displayName: "Acme Social" },
  ];
  const dashboard = () => createDashboardQueries({ store, logger, platforms: PLATFORMS, now: () => now });
  const tenant = uniqueName("mixed");

  beforeAll(async () => {
    await pool.query(`insert into tenants (id, name) values ($1, 'Mixed')`, [tenant]);
    const rows: Array<[string, string, string, number, string | null]> = [
      ["a1", "acme", "active", 60, null],
      ["a2", "acme", "needs_reauth", -5, null],
      ["a3", "acme", "active", 30, "failing"],
      ["t1", "tiktok", "active", 90, null],
      ["g1", "gone", "active", -10, null],
    ];
    for (const [id, type, status, inMinutes, failing] of rows) {
      await pool.query(
        `insert into channels (tenant_id, id, type, display_name, local_name, credentials, key_id, expires_at, has_refresh_token, status, failing_since)
         values ($1, $2, $3, $2, '@' || $2, 'v1.k.iv.ct.tag', 'k', $4, true, $5, $6)`,
        [tenant, id, type, minutes(inMinutes), status, failing ? minutes(-20) : null],
      );
    }
  });

  it("counts each type's channels and what needs attention, in the instance's platform order, unknown types last", async () => {
    const answer = await dashboard().platformBreakdown({ tenantId: tenant });
    if (!answer.success) throw new Error(answer.error);
    expect(answer.platforms).toEqual([
      { id: "tiktok", displayName: "TikTok", channels: 1, needsReauth: 0, failing: 0, expired: 0, configured: true },
      { id: "acme", displayName: "Acme Social", channels: 3, needsReauth: 1, failing: 1, expired: 1, configured: true },
      { id: "gone", displayName: "gone", channels: 1, needsReauth: 0, failing: 0, expired: 1, configured: false },
    ]);
  });

  it("filters the channel list by a configured type, and refuses a malformed one naming the field", async () => {
    const acme = await dashboard().listChannels({ tenantId: tenant, type: "acme" });
    if (!acme.success) throw new Error(acme.error);
    expect(acme.channels.map((channel) => channel.id).sort()).toEqual(["a1", "a2", "a3"]);
    const bad = await dashboard().listChannels({ tenantId: tenant, type: "ACME'; drop table channels;--" });
    expect(bad).toMatchObject({ success: false, code: "INVALID_INPUT", error: expect.stringMatching(/type/) });
  });

  it("answers NOT_FOUND for an unknown tenant", async () => {
    expect(await dashboard().platformBreakdown({ tenantId: uniqueName("nobody") })).toMatchObject({ success: false, code: "NOT_FOUND" });
  });
});

describe("tenant API keys", () => {
  const tenants = () => createTenantOperations({ store, logger });

  it("issues an rk_ key of 256 random bits, stores only its SHA-256, and authenticates it", async () => {
    const tenantId = uniqueName("keys");
    const issued = await tenants().issueApiKey({ tenantId, name: "Keys Inc" });
    if (!issued.success) throw new Error(issued.error);
    expect(issued).toMatchObject({ created: true, tenantId });
    expect(issued.apiKey).toMatch(/^rk_[A-Za-z0-9_-]{43}$/);
    expect(looksLikeApiKey(issued.apiKey)).toBe(true);
    const { rows } = await pool.query("select * from tenants where id = $1", [tenantId]);
    expect(rows[0].api_key_hash).toBe(hashApiKey(issued.apiKey));
    expect(JSON.stringify(rows[0])).not.toContain(issued.apiKey);
    expect(await tenants().authenticate(issued.apiKey)).toEqual({ role: "tenant", tenantId, tenantName: "Keys Inc", keyId: issued.keyId });
  });

  it("replaces the previous key when a new one is issued, keeping the tenant", async () => {
    const tenantId = uniqueName("keys");
    const first = await tenants().issueApiKey({ tenantId });
    const second = await tenants().issueApiKey({ tenantId });
    if (!first.success || !second.success) throw new Error("issue failed");
    expect(second.created).toBe(false);
    expect(await tenants().authenticate(first.apiKey)).toBeNull();
    expect(await tenants().authenticate(second.apiKey)).toMatchObject({ tenantId, keyId: second.keyId });
    expect(second.keyId).not.toBe(first.keyId);
  });

  it("refuses unknown, malformed and empty keys, and recognises the admin key", async () => {
    const admin = "a".repeat(40);
    expect(await tenants().authenticate(`rk_${"A".repeat(43)}`)).toBeNull();
    expect(await tenants().authenticate("not a key")).toBeNull();
    expect(await tenants().authenticate("")).toBeNull();
    expect(await tenants().authenticate(admin, admin)).toEqual({ role: "admin" });
    expect(await tenants().authenticate(`${admin}b`, admin)).toBeNull();
    expect(secretsEqual("same", "same")).toBe(true);
    expect(secretsEqual("short", "a much longer secret")).toBe(false);
  });

  it("refuses an invalid tenant id without creating anything", async () => {
    const answer = await tenants().issueApiKey({ tenantId: "has spaces" });
    expect(answer).toMatchObject({ success: false, code: "INVALID_INPUT" });
    expect(await store.tenants.exists("has spaces")).toBe(false);
  });
});
