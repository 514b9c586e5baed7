import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRefrescaApi } from "../src/api";
import { API_SCOPES, type ApiScope } from "../src/core/access/scopes";
import { PLATFORMS } from "../src/core/types";
import { ACME, startHarness, withConfiguredProvider, type Harness } from "./support/harness";
import { waitFor } from "./support/wait";

// A platform configured by data — a generic OAuth 2.0 provider "acme", pointed at the simulator's
// `POST /oauth2/acme/token` — is a first-class channel type: statistics, detection, batch refresh, scheduling and the
// REST API treat its channels as they treat the built-ins', against real PostgreSQL, Redis and HTTP.

const MINUTE = 60_000;
const DAY = 86_400;

/** What a tenant's mixed fixture holds: two built-ins, and acme channels in every state statistics count. */
interface Fixture {
  tenantId: string;
  tiktok: { id: string };
  instagram: { id: string };
  /** Expires in 10 minutes: urgent. */
  soon: { id: string; accessToken: string; refreshToken?: string };
  /** Expires in 5 days: nothing to do yet. */
  later: { id: string; accessToken: string; refreshToken?: string };
  /** Expired 5 minutes ago. */
  expired: { id: string; accessToken: string; refreshToken?: string };
  /** Expires in 30 minutes, and holds no refresh token (an OAuth 2.0 provider needs one). */
  noRefresh: { id: string; accessToken: string };
}

type Statistics = {
  totalChannels: number;
  channelsNeedingRefresh: number;
  channelsWithRefreshToken: number;
  urgentChannels: number;
  expiredChannels: number;
  needsReauth: number;
};

async function statistics(h: Harness, tenantId: string, refreshBeforeMinutes?: number): Promise<Statistics> {
  const answer = await h.refresca.getRefreshStatistics({ tenantId, ...(refreshBeforeMinutes !== undefined && { refreshBeforeMinutes }) });
  if (!answer.success) throw new Error(answer.error);
  return answer.statistics;
}

function plus(base: Statistics, delta: Partial<Statistics>): Statistics {
  const sum = { ...base };
  for (const [key, value] of Object.entries(delta)) sum[key as keyof Statistics] += value;
  return sum;
}

/** Adds the built-ins first and answers the tenant's statistics before any acme channel exists, then the acme ones. */
async function mixedTenant(h: Harness): Promise<{ fixture: Fixture; builtIns: Statistics; builtIns7d: Statistics }> {
  const tenantId = h.tenant();
  const tiktok = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 20 * 60 });
  const instagram = await h.addChannel({ tenantId, platform: "instagram", expiresInSeconds: 30 * DAY });
  const builtIns = await statistics(h, tenantId);
  const builtIns7d = await statistics(h, tenantId, 7 * 24 * 60);
  const fixture: Fixture = {
    tenantId,
    tiktok,
    instagram,
    soon: await h.addConfiguredChannel({ tenantId, id: "acme-soon", displayName: "Acme Soon", expiresInSeconds: 10 * 60 }),
    later: await h.addConfiguredChannel({ tenantId, id: "acme-later", displayName: "Acme Later", expiresInSeconds: 5 * DAY }),
    expired: await h.addConfiguredChannel({ tenantId, id: "acme-expired", displayName: "Acme Expired", expiresInSeconds: -5 * 60 }),
    noRefresh: await h.addConfiguredChannel({
      tenantId,
      id: "acme-no-refresh",
      displayName: "Acme Without Refresh Token",
      expiresInSeconds: 30 * 60,
      withoutRefreshToken: true,
    }),
  };
  return { fixture, builtIns, builtIns7d };
}

async function row(h: Harness, tenantId: string, channelId: string) {
  const [found] = await h.sql("select * from channels where tenant_id = $1 and id = $2", [tenantId, channelId]);
  return found;
}

describe("statistics, detection and batch refresh count a configured provider's channels", () => {
  let h: Harness;
  beforeAll(async () => {
    // No worker runs here: nothing refreshes a channel behind the tests' backs. Refreshed acme tokens live two hours,
    // past the default 60-minute window.
    h = await startHarness(withConfiguredProvider({}, {}, { accessLifetimeSeconds: 2 * 3600 }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it("getRefreshStatistics counts acme channels in every figure, and needsReauth once a revoked acme grant is refreshed", async () => {
    const { fixture, builtIns, builtIns7d } = await mixedTenant(h);
    // The built-ins alone: TikTok urgent, Instagram a month away.
    expect(builtIns).toMatchObject({ totalChannels: 2, channelsNeedingRefresh: 1, urgentChannels: 1, expiredChannels: 0, needsReauth: 0 });

    const expected = plus(builtIns, {
      totalChannels: 4,
      channelsNeedingRefresh: 3, // soon, expired, noRefresh
      channelsWithRefreshToken: 3, // soon, later, expired
      urgentChannels: 2, // soon, noRefresh
      expiredChannels: 1,
    });
    expect(await statistics(h, fixture.tenantId)).toEqual(expected);
    // A week's window takes in the one expiring in five days too.
    expect(await statistics(h, fixture.tenantId, 7 * 24 * 60)).toEqual(
      plus(builtIns7d, { totalChannels: 4, channelsNeedingRefresh: 4, channelsWithRefreshToken: 3, urgentChannels: 3, expiredChannels: 1 }),
    );

    // The platform revokes two grants; refreshing flags both for re-authorization.
    for (const channel of [fixture.soon, fixture.later]) {
      expect(h.simulator.oauth2.revoke(channel.refreshToken!)).toBeGreaterThan(0);
      const answer = await h.refresca.refreshChannelToken({ tenantId: fixture.tenantId, channelId: channel.id });
      expect(answer).toMatchObject({ success: false, code: "INVALID_CREDENTIALS" });
      expect((await row(h, fixture.tenantId, channel.id)).status).toBe("needs_reauth");
    }
    // A flagged channel needs a reconnect, not a refresh: it leaves "needing refresh" and "urgent".
    expect(await statistics(h, fixture.tenantId)).toEqual({
      ...expected,
      channelsNeedingRefresh: expected.channelsNeedingRefresh - 1,
      urgentChannels: expected.urgentChannels - 1,
      needsReauth: 2,
    });
  });

  it("getChannelsNeedingTokenRefresh lists the due acme channels with channelType acme and their display names, soonest first", async () => {
    const { fixture } = await mixedTenant(h);
    const answer = await h.refresca.getChannelsNeedingTokenRefresh({ tenantId: fixture.tenantId });
    if (!answer.success) throw new Error(answer.error);
    expect(answer.channels.map((channel) => channel.channelId)).toEqual([fixture.expired.id, fixture.soon.id, fixture.tiktok.id, fixture.noRefresh.id]);
    const byId = new Map(answer.channels.map((channel) => [channel.channelId, channel]));
    expect(byId.get(fixture.expired.id)).toEqual({
      channelId: fixture.expired.id,
      channelType: ACME.id,
      displayName: "Acme Expired",
      localName: "@local",
      expiresAt: expect.any(String),
      minutesUntilExpiration: expect.any(Number),
      hasRefreshToken: true,
    });
    expect(byId.get(fixture.expired.id)!.minutesUntilExpiration).toBeLessThan(0);
    expect(byId.get(fixture.soon.id)).toMatchObject({ channelType: ACME.id, displayName: "Acme Soon", hasRefreshToken: true });
    expect(byId.get(fixture.soon.id)!.minutesUntilExpiration).toBeGreaterThanOrEqual(8);
    expect(byId.get(fixture.noRefresh.id)).toMatchObject({ channelType: ACME.id, displayName: "Acme Without Refresh Token", hasRefreshToken: false });
    expect(byId.get(fixture.tiktok.id)).toMatchObject({ channelType: "tiktok" });

    const week = await h.refresca.getChannelsNeedingTokenRefresh({ tenantId: fixture.tenantId, refreshBeforeMinutes: 7 * 24 * 60 });
    expect(week.success && week.channels.find((channel) => channel.channelId === fixture.later.id)).toMatchObject({
      channelType: ACME.id,
      displayName: "Acme Later",
    });
  });

  it("refreshMultipleChannelTokens without ids refreshes the due acme channels at the simulator, keeping the rotation", async () => {
    const { fixture } = await mixedTenant(h);
    const before = h.simulator.oauth2.stats().calls[ACME.id] ?? 0;
    const answer = await h.refresca.refreshMultipleChannelTokens({ tenantId: fixture.tenantId });
    if (!answer.success) throw new Error(answer.error);
    const results = new Map(answer.results.map((result) => [result.channelId, result]));
    expect([...results.keys()].sort()).toEqual([fixture.expired.id, fixture.noRefresh.id, fixture.soon.id, fixture.tiktok.id].sort());
    expect(answer).toMatchObject({ processed: 4, succeeded: 3, failed: 1 });
    for (const channel of [fixture.expired, fixture.soon]) {
      const result = results.get(channel.id)!;
      expect(result).toMatchObject({ success: true });
      expect(Math.abs(Date.parse(result.newExpiresAt!) - (Date.now() + 120 * MINUTE))).toBeLessThan(MINUTE);
    }
    expect(results.get(fixture.noRefresh.id)).toMatchObject({ success: false, code: "NO_REFRESH_TOKEN" });
    expect(results.get(fixture.tiktok.id)).toMatchObject({ success: true });

    // Exactly the two due acme channels reached the token endpoint, each with its own refresh token, once.
    const stats = h.simulator.oauth2.stats();
    expect(stats.calls[ACME.id]! - before).toBe(2);
    expect(stats.callsForToken(fixture.expired.refreshToken!)).toBe(1);
    expect(stats.callsForToken(fixture.soon.refreshToken!)).toBe(1);
    expect(stats.callsForToken(fixture.later.refreshToken!)).toBe(0);

    // The new tokens were stored: the live token is a new one, and a second refresh presents the rotated refresh token.
    const token = await h.refresca.getAccessToken({ tenantId: fixture.tenantId, channelId: fixture.soon.id });
    expect(token).toMatchObject({ success: true, channelType: ACME.id, refreshed: false });
    expect(token.success && token.accessToken).not.toBe(fixture.soon.accessToken);
    expect(await h.refresca.refreshChannelToken({ tenantId: fixture.tenantId, channelId: fixture.soon.id })).toMatchObject({ success: true });
    expect(h.simulator.oauth2.stats().callsForToken(fixture.soon.refreshToken!)).toBe(1);
    expect(h.simulator.oauth2.stats().reuseDetected).toBe(0);

    // Nothing of acme is due any more but the channel without a refresh token.
    const after = await h.refresca.getChannelsNeedingTokenRefresh({ tenantId: fixture.tenantId });
    expect(after.success && after.channels.filter((channel) => channel.channelType === ACME.id).map((channel) => channel.channelId)).toEqual([
      fixture.noRefresh.id,
    ]);
  });
});

describe("scheduling refreshes of a configured provider's channels", () => {
  let h: Harness;
  const LEAD_SECONDS = 20 * 60;
  const LIFETIME_SECONDS = 2 * 3600;
  beforeAll(async () => {
    h = await startHarness(
      withConfiguredProvider({ refresca: { queue: { schedulerIntervalMs: 200, backoffMs: 100 } } }, { leadSeconds: LEAD_SECONDS }, { accessLifetimeSeconds: LIFETIME_SECONDS }),
    );
    await h.refresca.startWorker();
  });
  afterAll(async () => {
    await h?.close();
  });

  /** The refresh events of one channel, oldest first. */
  const events = (tenantId: string, channelId: string) =>
    h.sql<{ trigger: string; outcome: string }>("select trigger, outcome from refresh_events where tenant_id = $1 and channel_id = $2 order by id", [
      tenantId,
      channelId,
    ]);

  it("a channel whose expiry is unknown is refreshed by the workers' plan, then planned the provider's lead before its new expiry", async () => {
    const tenantId = h.tenant();
    const tokens = h.simulator.oauth2.issue(ACME.id);
    const saved = await h.refresca.channels.upsert({ tenantId, type: ACME.id, displayName: "Acme", accessToken: tokens.accessToken, refreshToken: tokens.refreshToken });
    if (!saved.success) throw new Error(saved.error);
    const channelId = saved.channel.id;
    await waitFor("the planned refresh of the acme channel", async () => (await events(tenantId, channelId)).some((event) => event.outcome === "success"));
    expect(await events(tenantId, channelId)).toEqual([expect.objectContaining({ trigger: "expiry", outcome: "success" })]);
    expect(h.simulator.oauth2.stats().callsForToken(tokens.refreshToken)).toBe(1);

    const stored = await row(h, tenantId, channelId);
    expect(Math.abs(stored.expires_at.getTime() - (Date.now() + LIFETIME_SECONDS * 1000))).toBeLessThan(MINUTE);
    // The configured leadSeconds, not a built-in's: the next refresh is planned 20 minutes before the new expiry.
    expect(stored.expires_at.getTime() - stored.next_refresh_at.getTime()).toBe(LEAD_SECONDS * 1000);
  });

  it("scheduleChannelTokenRefresh and a recurring sweep refresh acme channels at the simulator", async () => {
    const tenantId = h.tenant();
    // A week away: nothing planned soon, only the scheduled job refreshes it.
    const scheduled = await h.addConfiguredChannel({ tenantId, expiresInSeconds: 7 * DAY });
    // 50 minutes left: its plan is 20 minutes before expiry (30 minutes away), but a sweep's hour-long window takes it now.
    const swept = await h.addConfiguredChannel({ tenantId, expiresInSeconds: 50 * 60 });
    const planned = (await row(h, tenantId, swept.id)).next_refresh_at.getTime();
    expect(planned).toBeGreaterThan(Date.now() + 25 * MINUTE);

    expect(await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: scheduled.id, delayMinutes: 0 })).toMatchObject({ success: true });
    await waitFor("the scheduled refresh", async () => h.simulator.oauth2.stats().callsForToken(scheduled.refreshToken!) === 1);
    await waitFor("its outcome", async () => (await events(tenantId, scheduled.id)).length > 0);
    expect(await events(tenantId, scheduled.id)).toEqual([expect.objectContaining({ trigger: "scheduled", outcome: "success" })]);

    expect(await h.refresca.scheduleRecurringTokenRefresh({ tenantId, intervalMinutes: 30 })).toMatchObject({ success: true });
    await waitFor("the sweep's refresh", async () => (await events(tenantId, swept.id)).length > 0);
    expect(await events(tenantId, swept.id)).toEqual([expect.objectContaining({ trigger: "sweep", outcome: "success" })]);
    expect(h.simulator.oauth2.stats().callsForToken(swept.refreshToken!)).toBe(1);
    // The sweep left the week-away channel (refreshed already) alone.
    expect(h.simulator.oauth2.stats().callsForToken(scheduled.refreshToken!)).toBe(1);
    await waitFor("the tenant's jobs to settle", async () => {
      const status = await h.refresca.getTokenRefreshJobsStatus({ tenantId });
      return status.success && status.jobsActive + status.jobsWaiting === 0 && status.jobsCompleted >= 2;
    });
    expect(await h.refresca.cancelRecurringTokenRefresh({ tenantId })).toMatchObject({ success: true, cancelled: true });
  });
});

describe("the REST API with a configured provider", () => {
  let h: Harness;
  let server: ServerType;
  let baseUrl: string;
  beforeAll(async () => {
    h = await startHarness(withConfiguredProvider({ refresca: { apiRateLimit: { perSecond: 1000, burst: 5000 } } }));
    server = serve({ fetch: createRefrescaApi(h.refresca).fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await h?.close();
  });

  async function keyFor(tenantId: string, scopes: ApiScope[]): Promise<string> {
    const made = await h.refresca.apiKeys.create({ name: "configured", scopes, tenantId });
    if (!made.success) throw new Error(made.error);
    return made.apiKey;
  }
  function call(key: string, method: string, path: string, body?: unknown) {
    return fetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { "content-type": "application/json" }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  }

  it("PUT, GET, list, detect, refresh (at the simulator), read the token and remove an acme channel; every answer as the OpenAPI document says", async () => {
    const document = await (await fetch(`${baseUrl}/api/v1/openapi.json`)).json();
    const validated = await new Validator().validate(document);
    expect(validated.errors ?? []).toEqual([]);
    expect(validated.valid).toBe(true);
    expect(document.components.schemas.ChannelInput.properties.type.description).toContain([...PLATFORMS, ACME.id].join(", "));
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema({ $id: "doc", components: JSON.parse(JSON.stringify(document.components).replaceAll('"#/components/', '"doc#/components/')) });
    const conforms = (path: string, method: string, answer: unknown) => {
      const schema = document.paths[`/api/v1${path}`][method].responses["200"].content["application/json"].schema;
      const validate = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/')));
      expect({ path, method, errors: validate(answer) ? null : validate.errors }).toEqual({ path, method, errors: null });
    };

    const tenantId = h.tenant();
    const key = await keyFor(tenantId, ["channels:read", "channels:write", "refresh"]);
    const reader = await keyFor(tenantId, ["tokens:read"]);
    const tokens = h.simulator.oauth2.issue(ACME.id, { accessExpiresInSeconds: 20 * 60 });
    const channelPath = `/tenants/${tenantId}/channels/acme-1`;
    const texts: string[] = [];
    const json = async (res: Response, status = 200) => {
      const text = await res.text();
      expect({ status: res.status, text }).toMatchObject({ status });
      texts.push(text);
      return JSON.parse(text);
    };

    const put = await json(
      await call(key, "PUT", channelPath, { type: ACME.id, displayName: "Acme Brand", localName: "@brand", ...tokens, meta: { accountId: "42" } }),
    );
    expect(put).toMatchObject({ success: true, channel: { id: "acme-1", tenantId, type: ACME.id, displayName: "Acme Brand", hasRefreshToken: true, status: "active" } });
    expect(put.channel.nextRefreshAt).not.toBeNull();
    conforms("/tenants/{tenantId}/channels/{channelId}", "put", put);

    const got = await json(await call(key, "GET", channelPath));
    expect(got).toMatchObject({ success: true, channel: { id: "acme-1", type: ACME.id, meta: { accountId: "42" } } });
    conforms("/tenants/{tenantId}/channels/{channelId}", "get", got);

    const listed = await json(await call(key, "GET", `/tenants/${tenantId}/channels`));
    expect(listed.channels.map((channel: { id: string; type: string }) => [channel.id, channel.type])).toEqual([["acme-1", ACME.id]]);
    conforms("/tenants/{tenantId}/channels", "get", listed);

    const needing = await json(await call(key, "GET", `/tenants/${tenantId}/channels-needing-refresh`));
    expect(needing.channels).toEqual([expect.objectContaining({ channelId: "acme-1", channelType: ACME.id, displayName: "Acme Brand" })]);
    conforms("/tenants/{tenantId}/channels-needing-refresh", "get", needing);
    const statistics = await json(await call(key, "GET", `/tenants/${tenantId}/statistics`));
    expect(statistics.statistics).toMatchObject({ totalChannels: 1, channelsNeedingRefresh: 1, urgentChannels: 1, channelsWithRefreshToken: 1 });
    conforms("/tenants/{tenantId}/statistics", "get", statistics);

    const before = h.simulator.oauth2.stats().calls[ACME.id] ?? 0;
    const refreshed = await json(await call(key, "POST", `${channelPath}/refresh`));
    expect(refreshed).toMatchObject({ success: true, channelId: "acme-1" });
    expect(h.simulator.oauth2.stats().calls[ACME.id]! - before).toBe(1);
    expect(h.simulator.oauth2.stats().callsForToken(tokens.refreshToken)).toBe(1);
    conforms("/tenants/{tenantId}/channels/{channelId}/refresh", "post", refreshed);

    const batch = await json(await call(key, "POST", `/tenants/${tenantId}/refresh`, { channelIds: ["acme-1"] }));
    expect(batch).toMatchObject({ success: true, succeeded: 1, results: [{ channelId: "acme-1", success: true }] });
    expect(h.simulator.oauth2.stats().calls[ACME.id]! - before).toBe(2);
    conforms("/tenants/{tenantId}/refresh", "post", batch);

    // Only a tokens:read key gets the token; the others' answers never hold one.
    const refused = await call(key, "GET", `${channelPath}/token`);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("tokens:read");
    const tokenRes = await call(reader, "GET", `${channelPath}/token`);
    expect(tokenRes.status).toBe(200);
    expect(tokenRes.headers.get("cache-control")).toBe("no-store");
    const token = await tokenRes.json();
    expect(token).toMatchObject({ success: true, channelId: "acme-1", channelType: ACME.id, refreshed: false, meta: { accountId: "42" } });
    expect(token.accessToken).toMatch(new RegExp(`^simo2_${ACME.id}_at_`));
    expect(token.accessToken).not.toBe(tokens.accessToken);
    conforms("/tenants/{tenantId}/channels/{channelId}/token", "get", token);
    expect(h.simulator.oauth2.stats().calls[ACME.id]! - before).toBe(2); // a fresh token is read without a refresh

    const removed = await json(await call(key, "DELETE", channelPath));
    expect(removed).toMatchObject({ success: true, removed: true });
    await json(await call(key, "GET", channelPath), 404);

    for (const text of texts) {
      expect(text).not.toContain(tokens.accessToken);
      expect(text).not.toContain(tokens.refreshToken);
      expect(text).not.toContain(token.accessToken);
      expect(text).not.toContain(ACME.clientSecret);
    }
  });

  it("answers a PUT with an unknown type 400 INVALID_INPUT naming type and the instance's types, storing nothing", async () => {
    const tenantId = h.tenant();
    const key = await keyFor(tenantId, [...API_SCOPES]);
    for (const type of ["myspace", "ACME", "acme2", "threads-of-acme"]) {
      const res = await call(key, "PUT", `/tenants/${tenantId}/channels/c1`, { type, displayName: "x", accessToken: "y-token-value" });
      const answer = await res.json();
      expect({ type, status: res.status, answer }).toMatchObject({ type, status: 400, answer: { success: false, code: "INVALID_INPUT" } });
      expect(answer.error).toContain(`type: must be one of ${[...PLATFORMS, ACME.id].join(", ")}; got "${type}"`);
    }
    expect(await h.sql("select id from channels where tenant_id = $1", [tenantId])).toEqual([]);
    expect(await h.sql("select id from tenants where id = $1", [tenantId])).toEqual([]);
  });
});
