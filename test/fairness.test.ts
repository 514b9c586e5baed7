import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./support/harness";

// TikTok's app quota is shared by every tenant's channels; here it is 100 calls a minute.
const QUOTA_PER_MINUTE = 100;
const BURST = 50;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    simulator: { tiktok: { requestsPerMinute: QUOTA_PER_MINUTE } },
    refresca: { manualRefreshLimit: { perSecond: 1, burst: BURST } },
  });
});
afterAll(async () => {
  await h?.close();
});

describe("manual refreshes of one tenant", () => {
  it("cannot spend the platform quota of every tenant: past its own budget they answer RATE_LIMITED, and another tenant's refresh goes through", async () => {
    const a = h.tenant();
    const b = h.tenant();
    const ids: string[] = [];
    for (let start = 0; start < 1000; start += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => h.addChannel({ tenantId: a, platform: "tiktok", expiresInSeconds: 7200 })));
      ids.push(...batch.map((channel) => channel.id));
    }
    const other = await h.addChannel({ tenantId: b, platform: "tiktok", expiresInSeconds: 7200 });

    // Tenant A fires its 1,000 channels in four calls at once.
    const started = Date.now();
    const answers = await Promise.all(
      [0, 250, 500, 750].map((from) => h.refresca.refreshMultipleChannelTokens({ tenantId: a, channelIds: ids.slice(from, from + 250) })),
    );
    const elapsedSeconds = Math.ceil((Date.now() - started) / 1000);
    const results = answers.flatMap((answer) => {
      if (!answer.success) throw new Error(`${answer.error} ${h.logs.filter((l) => l.includes("operation failed")).slice(0, 2).join("\n")}`);
      return answer.results;
    });
    expect(results).toHaveLength(1000);
    const succeeded = results.filter((r) => r.success);
    const limited = results.filter((r) => !r.success);
    // The budget's burst, plus what it refilled (1 a second) while the calls ran.
    expect(succeeded.length).toBeGreaterThanOrEqual(BURST);
    expect(succeeded.length).toBeLessThanOrEqual(BURST + elapsedSeconds + 1);
    for (const result of limited) {
      expect(result).toMatchObject({ success: false, code: "RATE_LIMITED" });
      expect(result.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    }
    // The ones beyond the budget never reached TikTok.
    expect((await h.simulator.stats()).calls.tiktok).toBe(succeeded.length);

    // Tenant B's refresh, right after, still has the platform's quota to use.
    expect(await h.refresca.refreshChannelToken({ tenantId: b, channelId: other.id })).toMatchObject({ success: true });
    // A's next manual refresh is told when to come back, without a platform call.
    const again = await h.refresca.refreshChannelToken({ tenantId: a, channelId: limited[0]!.channelId });
    if (again.success) expect(succeeded.length).toBeLessThan(BURST + elapsedSeconds + 1);
    else expect(again).toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: expect.any(Number) });
  }, 120_000);

  it("cost nothing when they join a refresh already in flight, and leave the service's own refreshes alone", async () => {
    const c = h.tenant();
    const channel = await h.addChannel({ tenantId: c, platform: "tiktok", expiresInSeconds: 60 });
    // The app's quota is not what this test is about (the test above spent it).
    await h.simulator.configure({ latencyMs: { tiktok: 300 }, tiktok: { requestsPerMinute: null } });
    try {
      const calls = (await h.simulator.stats()).calls.tiktok;
      // Twice the burst, all at once, for one channel: one platform call, shared.
      const answers = await Promise.all(
        Array.from({ length: 2 * BURST }, () => h.refresca.refreshChannelToken({ tenantId: c, channelId: channel.id })),
      );
      expect(answers.filter((answer) => !answer.success)).toEqual([]);
      expect((await h.simulator.stats()).calls.tiktok).toBe(calls + 1);
    } finally {
      await h.simulator.configure({ latencyMs: 0 });
    }
    // Spend the rest of the tenant's budget on other channels.
    const others = await Promise.all(Array.from({ length: BURST + 5 }, () => h.addChannel({ tenantId: c, platform: "tiktok", expiresInSeconds: 60 })));
    const batch = await h.refresca.refreshMultipleChannelTokens({ tenantId: c, channelIds: others.map((o) => o.id) });
    if (!batch.success) throw new Error(batch.error);
    expect(batch.results.some((r) => r.code === "RATE_LIMITED")).toBe(true);
    // A token read that finds the token expiring refreshes it all the same: it is the service's own refresh.
    const unrefreshed = batch.results.find((r) => r.code === "RATE_LIMITED")!.channelId;
    expect(await h.refresca.getAccessToken({ tenantId: c, channelId: unrefreshed })).toMatchObject({ success: true, refreshed: true });
  }, 60_000);
});
