import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLATFORMS } from "../src/core/types";
import { startHarness, type Harness } from "./support/harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function channelRow(tenantId: string, id: string) {
  const [row] = await h.sql("select * from channels where tenant_id = $1 and id = $2", [tenantId, id]);
  return row;
}

describe("refreshChannelToken against the simulator", () => {
  it.each(PLATFORMS)("refreshes a %s channel and stores the new expiry", async (platform) => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform, expiresInSeconds: 600 });
    const before = Date.now();
    const answer = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    expect(answer).toMatchObject({ success: true, channelId: channel.id });
    if (!answer.success) return;
    const newExpiry = new Date(answer.newExpiresAt!).getTime();
    expect(newExpiry).toBeGreaterThan(before + 3600_000);
    const row = await channelRow(tenantId, channel.id);
    expect(row.expires_at.getTime()).toBe(newExpiry);
    expect(row.status).toBe("active");
    expect(row.last_outcome).toBe("success");
    const events = await h.sql("select * from refresh_events where tenant_id = $1", [tenantId]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: "success", trigger: "manual", channel_id: channel.id });
    expect(JSON.stringify(answer)).not.toContain(channel.accessToken);
  });

  it("uses TikTok's rotated refresh token the next time", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    const statsBefore = await h.simulator.stats();
    expect((await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).success).toBe(true);
    expect((await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).success).toBe(true);
    const stats = await h.simulator.stats();
    expect(stats.callsForToken(channel.refreshToken!)).toBe(1);
    expect(stats.calls.tiktok - statsBefore.calls.tiktok).toBe(2);
    expect(stats.reuseDetected).toBe(statsBefore.reuseDetected);
  });

  it("marks a channel whose token was revoked needs_reauth and does not call the platform again", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    await h.simulator.revoke(channel.refreshToken!);
    const first = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    expect(first).toMatchObject({ success: false, code: "INVALID_CREDENTIALS" });
    expect((await channelRow(tenantId, channel.id)).status).toBe("needs_reauth");
    const calls = (await h.simulator.stats()).totalCalls;
    const second = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    expect(second).toMatchObject({ success: false, code: "NEEDS_REAUTH" });
    expect((await h.simulator.stats()).totalCalls).toBe(calls);
    const stats = await h.refresca.getRefreshStatistics({ tenantId });
    expect(stats).toMatchObject({ success: true, statistics: { needsReauth: 1 } });
  });

  it("answers RATE_LIMITED with the wait the platform asked for", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    await h.simulator.inject({ kind: "throttle", platform: "tiktok", retryAfterSeconds: 5 });
    const answer = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    expect(answer).toMatchObject({ success: false, code: "RATE_LIMITED", retryAfterSeconds: 5 });
    expect((await channelRow(tenantId, channel.id)).status).toBe("active");
  });

  it("a refresh refused by the 24-hour rule (TOO_EARLY) starts no failing episode: the token works, it is only young", async () => {
    const tenantId = h.tenant();
    // Sixty days left: a long-lived Instagram token issued moments ago.
    const channel = await h.addChannel({ tenantId, platform: "instagram", expiresInSeconds: 60 * 86_400 });
    const answer = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    expect(answer).toMatchObject({ success: false, code: "TOO_EARLY" });
    const [row] = await h.sql("select status, last_error_code, failure_count, failing_since from channels where tenant_id = $1 and id = $2", [tenantId, channel.id]);
    expect(row).toMatchObject({ status: "active", last_error_code: "TOO_EARLY", failure_count: 0, failing_since: null });
  });

  it("answers PLATFORM_UNAVAILABLE during an outage, and the next try succeeds", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "facebook" });
    await h.simulator.inject({ kind: "html502", platform: "facebook" });
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({
      success: false,
      code: "PLATFORM_UNAVAILABLE",
    });
    expect((await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).success).toBe(true);
    const events = await h.sql("select outcome, error_code, http_status from refresh_events where tenant_id = $1 order by id", [tenantId]);
    expect(events).toEqual([
      { outcome: "failure", error_code: "PLATFORM_UNAVAILABLE", http_status: 502 },
      { outcome: "success", error_code: null, http_status: null },
    ]);
  });

  it("does not mistake a Meta token refreshed twice within seconds for one that was not extended", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 1200 });
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
  });

  it("flags a Meta token the platform did not extend instead of refreshing it again and again", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 1200 });
    // Stored a while ago: a refresh seconds after the last one could not tell a token that slid from one that did not.
    await h.sql("update channels set created_at = now() - interval '1 day' where tenant_id = $1", [tenantId]);
    await h.simulator.configure({ meta: { extends: false } });
    try {
      const answer = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
      expect(answer).toMatchObject({ success: false, code: "NOT_EXTENDED" });
      const row = await channelRow(tenantId, channel.id);
      expect(row).toMatchObject({ status: "needs_reauth", last_error_code: "NOT_EXTENDED" });
      const due = await h.refresca.getChannelsNeedingTokenRefresh({ tenantId });
      expect(due).toMatchObject({ success: true, channels: [] });
    } finally {
      await h.simulator.configure({ meta: { extends: true } });
    }
  });

  it("keeps a WhatsApp token that never expires out of refresh", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "whatsapp", neverExpires: true });
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({
      success: false,
      code: "NEVER_EXPIRES",
    });
    expect(await h.refresca.getChannelsNeedingTokenRefresh({ tenantId, refreshBeforeMinutes: 525_600 })).toMatchObject({
      channels: [],
    });
  });

  it("answers NO_REFRESH_TOKEN for a TikTok channel without one", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", withoutRefreshToken: true });
    const calls = (await h.simulator.stats()).totalCalls;
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({
      success: false,
      code: "NO_REFRESH_TOKEN",
    });
    expect((await h.simulator.stats()).totalCalls).toBe(calls);
  });
});

describe("tenant boundaries and input", () => {
  it("answers NOT_FOUND for another tenant's channel and refreshes nothing", async () => {
    const owner = h.tenant();
    const intruder = h.tenant();
    const channel = await h.addChannel({ tenantId: owner, platform: "tiktok" });
    await h.addChannel({ tenantId: intruder, platform: "tiktok" });
    const calls = (await h.simulator.stats()).totalCalls;
    expect(await h.refresca.refreshChannelToken({ tenantId: intruder, channelId: channel.id })).toMatchObject({
      success: false,
      code: "NOT_FOUND",
    });
    const batch = await h.refresca.refreshMultipleChannelTokens({ tenantId: intruder, channelIds: [channel.id] });
    expect(batch).toMatchObject({ success: true, processed: 1, succeeded: 0, failed: 1, results: [{ code: "NOT_FOUND" }] });
    expect((await h.simulator.stats()).totalCalls).toBe(calls);
    expect((await channelRow(owner, channel.id)).version).toBe(1);
  });

  const malformed: Array<[string, unknown]> = [
    ["missing tenantId", { channelId: "c1" }],
    ["number id", { channelId: 5, tenantId: "t" }],
    ["10 kB id", { channelId: "x".repeat(10_000), tenantId: "t" }],
    ["unknown field", { channelId: "c1", tenantId: "t", force: true }],
    ["null", null],
    ["id with spaces", { channelId: "a b", tenantId: "t" }],
  ];
  it.each(malformed)("refuses %s with INVALID_INPUT", async (_name, input) => {
    const answer = await h.refresca.refreshChannelToken(input as never);
    expect(answer).toMatchObject({ success: false, code: "INVALID_INPUT" });
    if (!answer.success) expect(answer.error.length).toBeLessThan(400);
  });

  it("refuses bad windows and batches, and changes nothing", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 60 });
    for (const input of [
      { tenantId, refreshBeforeMinutes: -1 },
      { tenantId, refreshBeforeMinutes: 1e12 },
      { tenantId, refreshBeforeMinutes: "60" },
      { tenantId, refreshBeforeMinutes: 1.5 },
    ]) {
      expect(await h.refresca.getChannelsNeedingTokenRefresh(input as never)).toMatchObject({ code: "INVALID_INPUT" });
    }
    for (const input of [
      { tenantId, channelIds: [] },
      { tenantId, channelIds: Array.from({ length: 1001 }, (_, i) => `c${i}`) },
      { tenantId, channelIds: [channel.id, 7] },
      { tenantId, channelIds: channel.id },
    ]) {
      expect(await h.refresca.refreshMultipleChannelTokens(input as never)).toMatchObject({ code: "INVALID_INPUT" });
    }
    expect((await channelRow(tenantId, channel.id)).version).toBe(1);
    expect(await h.sql("select * from refresh_events where tenant_id = $1", [tenantId])).toHaveLength(0);
  });

  it("refuses a channel whose meta would hold a token in the clear", async () => {
    const answer = await h.refresca.channels.upsert({
      tenantId: h.tenant(),
      type: "facebook",
      displayName: "x",
      accessToken: "abc",
      meta: { access_token: "abc" },
    } as never);
    expect(answer).toMatchObject({ success: false, code: "INVALID_INPUT" });
    if (!answer.success) expect(answer.error).toContain("meta.access_token");
  });
});

describe("batch refresh, detection and statistics", () => {
  it("refreshes every channel that needs it and reports each result", async () => {
    const tenantId = h.tenant();
    const soon = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 300 });
    const expired = await h.addChannel({ tenantId, platform: "instagram", expiresInSeconds: -60 });
    const later = await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 30 * 86_400 });
    const due = await h.refresca.getChannelsNeedingTokenRefresh({ tenantId, refreshBeforeMinutes: 60 });
    expect(due.success && due.channels.map((c) => c.channelId)).toEqual([expired.id, soon.id]);
    if (due.success) {
      expect(due.channels[0]!.minutesUntilExpiration).toBeLessThan(0);
      expect(due.channels[1]).toMatchObject({ channelType: "tiktok", hasRefreshToken: true, displayName: "tiktok channel" });
    }
    const stats = await h.refresca.getRefreshStatistics({ tenantId });
    expect(stats).toMatchObject({
      success: true,
      statistics: { totalChannels: 3, channelsNeedingRefresh: 2, channelsWithRefreshToken: 3, urgentChannels: 1, expiredChannels: 1, needsReauth: 0 },
    });
    const batch = await h.refresca.refreshMultipleChannelTokens({ tenantId });
    expect(batch).toMatchObject({ success: true, processed: 2 });
    if (!batch.success) return;
    // The expired Instagram token is refused by the platform: only TikTok's refresh succeeds.
    expect(batch.results.find((r) => r.channelId === soon.id)).toMatchObject({ success: true });
    expect(batch.results.find((r) => r.channelId === expired.id)).toMatchObject({ success: false, code: "INVALID_CREDENTIALS" });
    expect(batch.succeeded).toBe(1);
    expect((await channelRow(tenantId, later.id)).version).toBe(1);
  });

  it("answers NOT_FOUND for an unknown tenant", async () => {
    expect(await h.refresca.getRefreshStatistics({ tenantId: "nobody-here" })).toMatchObject({ code: "NOT_FOUND" });
    expect(await h.refresca.getChannelsNeedingTokenRefresh({ tenantId: "nobody-here" })).toMatchObject({ code: "NOT_FOUND" });
  });

  it("limits a missing platform's app credentials to that platform's channels", async () => {
    const partial = await startHarness({ refresca: { apps: { tiktok: { clientKey: "sim-tiktok-key", clientSecret: "sim-tiktok-secret" } } } });
    try {
      const tenantId = partial.tenant();
      const fb = await partial.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 60 });
      const tt = await partial.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 60 });
      const batch = await partial.refresca.refreshMultipleChannelTokens({ tenantId });
      if (!batch.success) throw new Error(batch.error);
      expect(batch.results.find((r) => r.channelId === fb.id)).toMatchObject({ success: false, code: "MISSING_APP_CREDENTIALS" });
      expect(batch.results.find((r) => r.channelId === tt.id)).toMatchObject({ success: true });
      expect((await partial.simulator.stats()).calls.facebook).toBe(0);
    } finally {
      await partial.close();
    }
  });
});
