import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createApiKeyOperations } from "../src/core/access/api-key-operations";
import { hashApiKey } from "../src/core/access/api-keys";
import { ApiRateLimiter } from "../src/core/access/rate-limit";
import { API_SCOPES, DEFAULT_API_SCOPES } from "../src/core/access/scopes";
import { forSession, type Session } from "../src/web/policy";
import { ALL_TENANTS, dashboardApiKeys } from "../src/web/api-key-access";
import { TEST_REDIS_URL } from "./env";
import { startHarness, type Harness } from "./support/harness";
import { waitFor } from "./support/wait";
import { redisNames } from "../src/core/redis-names";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  // Counts the UPDATE statements on api_keys, whoever runs them: what "writes per authentication" means.
  await h.sql(`
    create table api_key_writes (n integer not null);
    insert into api_key_writes values (0);
    create function count_api_key_write() returns trigger language plpgsql as $$
      begin update api_key_writes set n = n + 1; return null; end $$;
    create trigger count_api_key_write after update on api_keys for each statement execute function count_api_key_write();
  `);
});
afterAll(async () => {
  await h?.close();
});

const writes = async () => (await h.sql<{ n: number }>("select n from api_key_writes"))[0]!.n;
const row = async (id: string) => (await h.sql("select * from api_keys where id = $1", [id]))[0];

async function createKey(input: Parameters<Harness["refresca"]["apiKeys"]["create"]>[0]) {
  const answer = await h.refresca.apiKeys.create(input);
  if (!answer.success) throw new Error(answer.error);
  return answer;
}

describe("REST API keys", () => {
  it("creates a key that authenticates as its principal: key text rka_ + 43, id key_ + 12 hex", async () => {
    const tenantId = h.tenant();
    const created = await createKey({ name: "Backend", tenantId });
    expect(created.apiKey).toMatch(/^rka_[A-Za-z0-9_-]{43}$/);
    expect(created.key).toMatchObject({ name: "Backend", tenantId, lastUsedAt: null, revokedAt: null });
    expect(created.key.id).toMatch(/^key_[0-9a-f]{12}$/);
    expect(await h.refresca.apiKeys.authenticate(created.apiKey)).toEqual({
      keyId: created.key.id,
      name: "Backend",
      tenantId,
      scopes: DEFAULT_API_SCOPES,
    });
    // Does not create the tenant: the first PUT of a channel does.
    expect(await h.refresca.tenants.get(tenantId)).toBeNull();
  });

  it("gives every scope but tokens:read by default, and tokens:read only when asked for by name", async () => {
    const plain = await createKey({ name: "plain" });
    expect(plain.key.scopes).not.toContain("tokens:read");
    expect(plain.key.scopes).toEqual(API_SCOPES.filter((scope) => scope !== "tokens:read"));
    expect(plain.key.tenantId).toBeNull();

    const reader = await createKey({ name: "reader", scopes: ["tokens:read"] });
    expect(reader.key.scopes).toEqual(["tokens:read"]);
    expect((await h.refresca.apiKeys.authenticate(reader.apiKey))?.scopes).toEqual(["tokens:read"]);
  });

  it("refuses an unknown scope with INVALID_INPUT naming it, and stores nothing", async () => {
    const name = `unknown-scope-${h.tenant()}`;
    const answer = await h.refresca.apiKeys.create({ name, scopes: ["channels:read", "tokens:write" as never] });
    expect(answer).toMatchObject({ success: false, code: "INVALID_INPUT" });
    expect(!answer.success && answer.error).toContain('scopes.1: unknown scope "tokens:write"');
    expect(await h.sql("select id from api_keys where name = $1", [name])).toEqual([]);
    expect(await h.refresca.apiKeys.create({ name, scopes: [] })).toMatchObject({ code: "INVALID_INPUT" });
    expect(await h.refresca.apiKeys.create({ name: " " })).toMatchObject({ code: "INVALID_INPUT" });
    expect(await h.refresca.apiKeys.create({ name, tenantId: "not valid" })).toMatchObject({ code: "INVALID_INPUT" });
    expect(await h.sql("select id from api_keys where name = $1", [name])).toEqual([]);
  });

  it("stores only the key's SHA-256: the key's text is nowhere in the table, nor in listings", async () => {
    const created = await createKey({ name: "stored", scopes: ["refresh"] });
    const secretPart = created.apiKey.slice("rka_".length);
    expect(await row(created.key.id)).toMatchObject({ key_hash: hashApiKey(created.apiKey), scopes: ["refresh"] });
    const table = JSON.stringify(await h.sql("select * from api_keys"));
    expect(table).not.toContain(secretPart);
    const listed = JSON.stringify(await h.refresca.apiKeys.list({}));
    expect(listed).not.toContain(secretPart);
    expect(listed).not.toContain(hashApiKey(created.apiKey));
    expect(h.logs.join("\n")).not.toContain(secretPart);
  });

  it("refuses text that is not shaped like a key without a query, and unknown keys after one", async () => {
    const lookup = vi.spyOn(h.refresca.internals.store.apiKeys, "findActiveByHash");
    try {
      const garbage = ["", "Bearer x", "rk_" + "a".repeat(43), "rka_short", "rka_" + "a".repeat(43) + "!", "x".repeat(10_000)];
      for (const text of garbage) expect(await h.refresca.apiKeys.authenticate(text)).toBeNull();
      expect(await h.refresca.apiKeys.authenticate(42 as never)).toBeNull();
      expect(lookup).not.toHaveBeenCalled();
      expect(await h.refresca.apiKeys.authenticate("rka_" + "a".repeat(43))).toBeNull();
      expect(lookup).toHaveBeenCalledTimes(1);
    } finally {
      lookup.mockRestore();
    }
  });

  it("revokes a key: it no longer authenticates, and revoking it again is NOT_FOUND", async () => {
    const created = await createKey({ name: "to revoke" });
    expect(await h.refresca.apiKeys.authenticate(created.apiKey)).not.toBeNull();
    expect(await h.refresca.apiKeys.revoke({ id: created.key.id })).toEqual({ success: true, revoked: true });
    expect(await h.refresca.apiKeys.authenticate(created.apiKey)).toBeNull();
    expect(await h.refresca.apiKeys.revoke({ id: created.key.id })).toMatchObject({ code: "NOT_FOUND" });
    expect(await h.refresca.apiKeys.revoke({ id: "nonsense" })).toMatchObject({ code: "INVALID_INPUT" });
    expect((await row(created.key.id)).revoked_at).toBeInstanceOf(Date);
  });

  it("a tenant lists only its own keys and cannot revoke another tenant's nor an all-tenant key", async () => {
    const a = h.tenant();
    const b = h.tenant();
    const ofA = await createKey({ name: "A's", tenantId: a });
    const ofB = await createKey({ name: "B's", tenantId: b });
    const everyone = await createKey({ name: "all" });

    const listA = await h.refresca.apiKeys.list({ tenantId: a });
    expect(listA.success && listA.keys.map((key) => key.id)).toEqual([ofA.key.id]);
    const all = await h.refresca.apiKeys.list({});
    expect(all.success && all.keys.map((key) => key.id)).toEqual(expect.arrayContaining([ofA.key.id, ofB.key.id, everyone.key.id]));

    expect(await h.refresca.apiKeys.revoke({ id: ofB.key.id, tenantId: a })).toMatchObject({ code: "NOT_FOUND" });
    expect(await h.refresca.apiKeys.revoke({ id: everyone.key.id, tenantId: a })).toMatchObject({ code: "NOT_FOUND" });
    expect(await h.refresca.apiKeys.authenticate(ofB.apiKey)).not.toBeNull();
    expect(await h.refresca.apiKeys.authenticate(everyone.apiKey)).not.toBeNull();
    expect(await h.refresca.apiKeys.revoke({ id: ofA.key.id, tenantId: a })).toEqual({ success: true, revoked: true });
  });

  it("writes last_used_at after a flush, and 1,000 authentications make one write", async () => {
    await h.refresca.apiKeys.flush(); // earlier tests' uses: written now, so no timer fires during this one
    const created = await createKey({ name: "busy" });
    const before = await writes();
    for (let round = 0; round < 20; round++) {
      const answers = await Promise.all(Array.from({ length: 50 }, () => h.refresca.apiKeys.authenticate(created.apiKey)));
      expect(answers.every((principal) => principal?.keyId === created.key.id)).toBe(true);
    }
    // The timer writes once a minute: nothing has been written by the requests themselves.
    expect(await writes()).toBe(before);
    expect((await row(created.key.id)).last_used_at).toBeNull();

    await h.refresca.apiKeys.flush();
    expect(await writes()).toBe(before + 1);
    const usedAt = (await row(created.key.id)).last_used_at as Date;
    expect(Math.abs(usedAt.getTime() - Date.now())).toBeLessThan(60_000);
    const listed = await h.refresca.apiKeys.list({});
    expect(listed.success && listed.keys.find((key) => key.id === created.key.id)?.lastUsedAt).toBe(usedAt.toISOString());

    await h.refresca.apiKeys.flush();
    expect(await writes()).toBe(before + 1); // nothing pending, nothing written
  });

  it("writes last use from its timer alone, once per interval however many requests", async () => {
    const { store, logger } = h.refresca.internals;
    const operations = createApiKeyOperations({ store, logger, touchIntervalMs: 300 });
    try {
      const created = await operations.create({ name: "timed" });
      if (!created.success) throw new Error(created.error);
      const before = await writes();
      const started = Date.now();
      for (let i = 0; i < 200; i++) await operations.authenticate(created.apiKey);
      await waitFor("the timer's write", async () => (await row(created.key.id)).last_used_at);
      const intervals = Math.ceil((Date.now() - started) / 300);
      expect(await writes()).toBeGreaterThanOrEqual(before + 1);
      expect(await writes()).toBeLessThanOrEqual(before + intervals);
    } finally {
      await operations.close();
    }
  });

  it("close() writes what is pending", async () => {
    const { store, logger } = h.refresca.internals;
    const operations = createApiKeyOperations({ store, logger });
    const created = await operations.create({ name: "closing" });
    if (!created.success) throw new Error(created.error);
    await operations.authenticate(created.apiKey);
    expect((await row(created.key.id)).last_used_at).toBeNull();
    await operations.close();
    expect((await row(created.key.id)).last_used_at).toBeInstanceOf(Date);
  });
});

describe("the dashboard's key actions behind the session check", () => {
  const tenantSession = (tenantId: string): Session => ({ role: "tenant", tenantId, tenantName: tenantId });
  const admin: Session = { role: "admin" };

  it("a tenant session gets FORBIDDEN for another tenant and for every tenant, and manages only its own keys", async () => {
    const a = h.tenant();
    const b = h.tenant();
    const actions = dashboardApiKeys(h.refresca);
    const ofB = await createKey({ name: "B's", tenantId: b });
    const everyone = await createKey({ name: "all" });
    const asA = <R extends object>(input: { tenantId: string }, run: () => Promise<R>) => forSession(tenantSession(a), input, run);

    for (const tenantId of [b, ALL_TENANTS]) {
      expect(await asA({ tenantId }, () => actions.list({ tenantId }))).toMatchObject({ code: "FORBIDDEN" });
      expect(await asA({ tenantId }, () => actions.create({ tenantId, name: "x", scopes: ["tokens:read"] }))).toMatchObject({ code: "FORBIDDEN" });
      expect(await asA({ tenantId }, () => actions.revoke({ tenantId, id: ofB.key.id }))).toMatchObject({ code: "FORBIDDEN" });
    }
    // Under its own tenant id, A still cannot reach B's key or the all-tenant one.
    for (const id of [ofB.key.id, everyone.key.id]) {
      expect(await asA({ tenantId: a }, () => actions.revoke({ tenantId: a, id }))).toMatchObject({ code: "NOT_FOUND" });
    }
    expect(await h.refresca.apiKeys.authenticate(ofB.apiKey)).not.toBeNull();
    expect(await h.refresca.apiKeys.authenticate(everyone.apiKey)).not.toBeNull();
    expect(await h.sql("select id from api_keys where name = 'x'")).toEqual([]);

    const made = await asA({ tenantId: a }, () => actions.create({ tenantId: a, name: "A's own", scopes: ["channels:read", "tokens:read"] }));
    expect(made).toMatchObject({ success: true, key: { tenantId: a, scopes: ["channels:read", "tokens:read"] } });
    const listed = await asA({ tenantId: a }, () => actions.list({ tenantId: a }));
    expect(listed.success && listed.keys.map((key) => key.name)).toEqual(["A's own"]);
    const id = made.success ? made.key.id : "";
    expect(await asA({ tenantId: a }, () => actions.revoke({ tenantId: a, id }))).toEqual({ success: true, revoked: true });
  });

  it("an admin session sees every key, makes all-tenant keys and revokes any key", async () => {
    const b = h.tenant();
    const actions = dashboardApiKeys(h.refresca);
    const ofB = await createKey({ name: "B's for admin", tenantId: b });
    const asAdmin = <R extends object>(run: () => Promise<R>) => forSession(admin, { tenantId: ALL_TENANTS }, run);

    const made = await asAdmin(() => actions.create({ tenantId: ALL_TENANTS, name: "admin-made", scopes: ["refresh"] }));
    expect(made).toMatchObject({ success: true, key: { tenantId: null, scopes: ["refresh"] } });
    const listed = await asAdmin(() => actions.list({ tenantId: ALL_TENANTS }));
    expect(listed.success && listed.keys.map((key) => key.id)).toEqual(expect.arrayContaining([ofB.key.id, made.success ? made.key.id : ""]));
    expect(await asAdmin(() => actions.revoke({ tenantId: ALL_TENANTS, id: ofB.key.id }))).toEqual({ success: true, revoked: true });
    expect(await forSession(null, { tenantId: ALL_TENANTS }, () => actions.list({ tenantId: ALL_TENANTS }))).toMatchObject({ code: "UNAUTHORIZED" });
  });
});

describe("the per-key rate limit", () => {
  const connections: Redis[] = [];
  afterAll(() => {
    for (const redis of connections) redis.disconnect();
  });
  /** A limiter on its own Redis connection, as another web process would have. */
  const webProcess = (limit: { perSecond: number; burst: number }) => {
    const redis = new Redis(TEST_REDIS_URL);
    connections.push(redis);
    return new ApiRateLimiter(redis, h.keyPrefix, limit);
  };

  it("lets a burst through at once, then refuses with Retry-After ≥ 1 s, across two processes sharing the bucket", async () => {
    const limit = { perSecond: 4, burst: 10 };
    const [one, two] = [webProcess(limit), webProcess(limit)];
    const keyId = `key_${h.tenant().slice(-12)}`;
    // 30 requests at once from two processes: exactly the burst gets through (the script is atomic).
    const decisions = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? one : two).take(keyId)));
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(10);
    for (const refused of decisions.filter((decision) => !decision.allowed)) expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(await one.take(keyId)).toMatchObject({ allowed: false });
    expect(await two.take(keyId)).toMatchObject({ allowed: false });

    // Another key has its own bucket.
    expect(await one.take(`${keyId}x`)).toEqual({ allowed: true, retryAfterSeconds: 0 });

    // The bucket lives under the prefix and expires once it would be full again: an idle key costs nothing.
    const redis = connections[0]!;
    const ttl = await redis.pttl(redisNames(h.keyPrefix).apiRateLimit(keyId));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual((limit.burst / limit.perSecond) * 1000 + 50);
  });

  it("refills at the steady rate", async () => {
    const limit = { perSecond: 10, burst: 3 };
    const [one, two] = [webProcess(limit), webProcess(limit)];
    const keyId = `key_${h.tenant().slice(-12)}`;
    for (let i = 0; i < 3; i++) expect((await one.take(keyId)).allowed).toBe(true);
    const refused = await two.take(keyId);
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 1 });
    await sleep(120); // one interval (100 ms) and a margin: one request's worth is back, not two
    expect((await two.take(keyId)).allowed).toBe(true);
    expect((await one.take(keyId)).allowed).toBe(false);
    await sleep(350);
    expect((await one.take(keyId)).allowed).toBe(true);
    expect((await two.take(keyId)).allowed).toBe(true);
    expect((await one.take(keyId)).allowed).toBe(true);
  });

  it("is on the Refresca object with the configured limit (100/s, bursts of 500 by default)", async () => {
    expect(h.refresca.rateLimiter.limit).toEqual({ perSecond: 100, burst: 500 });
    const keyId = `key_${h.tenant().slice(-12)}`;
    const started = Date.now();
    const decisions = await Promise.all(Array.from({ length: 600 }, () => h.refresca.rateLimiter.take(keyId)));
    const allowed = decisions.filter((decision) => decision.allowed).length;
    // The burst, plus what refilled (one every 10 ms) while the 600 requests were on their way.
    expect(allowed).toBeGreaterThanOrEqual(500);
    expect(allowed).toBeLessThanOrEqual(500 + Math.ceil((Date.now() - started) / 10));
  });
});
