import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RefreshWorker } from "../src/core/queue/worker";
import { deleteKeys, startHarness, type Harness } from "./support/harness";
import { waitFor } from "./support/wait";

let h: Harness;
let worker: RefreshWorker;
beforeAll(async () => {
  h = await startHarness({ refresca: { queue: { backoffMs: 100, backoffJitter: 0 } } });
  worker = await h.refresca.startWorker({ lockDurationMs: 5000 });
});
afterAll(async () => {
  await h?.close();
});

const events = (tenantId: string) =>
  h.sql("select job_id, trigger, attempt, outcome, error_code from refresh_events where tenant_id = $1 order by id", [tenantId]);

describe("the specification's complete example (section 10)", () => {
  it("runs as written against the simulator", async () => {
    const tenantId = h.tenant();
    const urgent = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 600 });
    await h.addChannel({ tenantId, platform: "instagram", expiresInSeconds: 40 * 60 });
    await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 30 * 86_400 });
    const { scheduleRecurringTokenRefresh, getChannelsNeedingTokenRefresh, refreshMultipleChannelTokens, getTokenRefreshJobsStatus } =
      h.refresca;

    // 1. Configurar refresh recurrente para un tenant
    const recurring = await scheduleRecurringTokenRefresh({ tenantId, intervalMinutes: 60 });
    expect(recurring).toMatchObject({ success: true, intervalMinutes: 60 });
    // 2. Verificar canales que necesitan refresh
    const channels = await getChannelsNeedingTokenRefresh({ tenantId });
    if (!channels.success) throw new Error(channels.error);
    // 3. Refresh manual de canales urgentes
    const urgentChannels = channels.channels.filter((c) => c.minutesUntilExpiration < 30);
    expect(urgentChannels.map((c) => c.channelId)).toEqual([urgent.id]);
    if (urgentChannels.length > 0) {
      const batch = await refreshMultipleChannelTokens({ tenantId, channelIds: urgentChannels.map((c) => c.channelId) });
      expect(batch).toMatchObject({ success: true, processed: 1 });
    }
    // 4. Monitorear progreso
    const status = await getTokenRefreshJobsStatus({ tenantId });
    expect(status).toMatchObject({ success: true });
    if (!status.success) return;
    expect(typeof status.jobsActive).toBe("number");
    expect(typeof status.jobsCompleted).toBe("number");
    // The recurring sweep's first run refreshes the Instagram channel that expires within its window.
    await waitFor("the sweep to refresh the Instagram channel", async () => {
      const rows = await h.sql("select count(*)::int as n from refresh_events where tenant_id = $1 and trigger = 'sweep' and outcome = 'success'", [tenantId]);
      return rows[0].n >= 1;
    });
    expect(await h.refresca.cancelRecurringTokenRefresh({ tenantId })).toMatchObject({ success: true, cancelled: true });
  });
});

describe("scheduled refresh", () => {
  it("queues one job per channel, runs it after the delay and records it", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    const later = await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: channel.id, delayMinutes: 30 });
    expect(later).toMatchObject({ success: true });
    if (!later.success) return;
    expect(Math.abs(new Date(later.scheduledFor).getTime() - (Date.now() + 30 * 60_000))).toBeLessThan(5000);
    const again = await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: channel.id, delayMinutes: 45 });
    expect(again).toMatchObject({ success: true, jobId: later.jobId, scheduledFor: later.scheduledFor });
    // An earlier request moves the pending job earlier: it runs now.
    const now = await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: channel.id, delayMinutes: 0 });
    expect(now).toMatchObject({ success: true, jobId: later.jobId });
    await waitFor("the scheduled refresh", async () => (await events(tenantId)).length === 1);
    expect(await events(tenantId)).toEqual([{ job_id: later.jobId, trigger: "scheduled", attempt: 1, outcome: "success", error_code: null }]);
    await waitFor("the job to count as completed", async () => {
      const status = await h.refresca.getTokenRefreshJobsStatus({ tenantId });
      return status.success && status.jobsCompleted === 1 ? status : null;
    });
  });

  it("refuses foreign channels and out-of-range delays without queuing anything", async () => {
    const owner = h.tenant();
    const other = h.tenant();
    const channel = await h.addChannel({ tenantId: owner, platform: "tiktok" });
    await h.addChannel({ tenantId: other, platform: "tiktok" });
    expect(await h.refresca.scheduleChannelTokenRefresh({ tenantId: other, channelId: channel.id, delayMinutes: 1 })).toMatchObject({ code: "NOT_FOUND" });
    for (const delayMinutes of [-1, 43_201, 1.5, Number.NaN]) {
      expect(await h.refresca.scheduleChannelTokenRefresh({ tenantId: owner, channelId: channel.id, delayMinutes })).toMatchObject({ code: "INVALID_INPUT" });
    }
    for (const intervalMinutes of [0, 10_081, 2.5]) {
      expect(await h.refresca.scheduleRecurringTokenRefresh({ tenantId: owner, intervalMinutes })).toMatchObject({ code: "INVALID_INPUT" });
    }
    const status = await h.refresca.getTokenRefreshJobsStatus({ tenantId: other });
    // Only the other tenant's own expiry-driven job, never a job for the foreign channel.
    expect(status).toMatchObject({ success: true, jobsActive: 0, jobsWaiting: 0, jobsDelayed: 1 });
  });
});

describe("retries", () => {
  it("waits as the platform asked when rate limited, without consuming an attempt", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    await h.simulator.inject({ kind: "throttle", platform: "tiktok", retryAfterSeconds: 2 });
    const started = Date.now();
    const job = await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: channel.id, delayMinutes: 0 });
    if (!job.success) throw new Error(job.error);
    await waitFor("the refresh after the rate limit", async () => (await events(tenantId)).some((e) => e.outcome === "success"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(await events(tenantId)).toEqual([
      { job_id: job.jobId, trigger: "scheduled", attempt: 1, outcome: "failure", error_code: "RATE_LIMITED" },
      { job_id: job.jobId, trigger: "scheduled", attempt: 1, outcome: "success", error_code: null },
    ]);
  });

  it("steps aside while another process holds the channel's lock, then refreshes once it expires", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    // A lock left by a worker that died mid-refresh: it lives on for 3 s.
    const lockKey = `${h.keyPrefix}lock:${encodeURIComponent(tenantId)}:${encodeURIComponent(channel.id)}`;
    await h.refresca.internals.redis.set(lockKey, "dead-worker", "PX", 3000);
    const started = Date.now();
    const job = await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: channel.id, delayMinutes: 0 });
    if (!job.success) throw new Error(job.error);
    await waitFor("the refresh after the lock expired", async () => (await events(tenantId)).some((e) => e.outcome === "success"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
    const logs = (await h.refresca.internals.queue.refresh.getJobLogs(job.jobId)).logs.join("\n");
    expect(logs).toContain("channel busy");
    expect(await events(tenantId)).toEqual([{ job_id: job.jobId, trigger: "scheduled", attempt: 1, outcome: "success", error_code: null }]);
  });

  it("fails a job after 3 outages in a row, with an event row for each attempt", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "facebook" });
    await h.simulator.inject({ kind: "unavailable", platform: "facebook", count: 3 });
    const job = await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: channel.id, delayMinutes: 0 });
    if (!job.success) throw new Error(job.error);
    await waitFor("the job to fail", async () => {
      const status = await h.refresca.getTokenRefreshJobsStatus({ tenantId });
      return status.success && status.jobsFailed === 1;
    });
    expect((await events(tenantId)).map((e) => [e.attempt, e.error_code])).toEqual([
      [1, "PLATFORM_UNAVAILABLE"],
      [2, "PLATFORM_UNAVAILABLE"],
      [3, "PLATFORM_UNAVAILABLE"],
    ]);
    const failed = await h.refresca.internals.queue.refresh.getJob(job.jobId);
    expect(failed?.failedReason).toContain("PLATFORM_UNAVAILABLE");
    expect((await h.refresca.internals.queue.refresh.getJobLogs(job.jobId)).logs.join("\n")).toContain("attempt 3/3");
  });

  it("does not retry invalid credentials", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    await h.simulator.revoke(channel.refreshToken!);
    const job = await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: channel.id, delayMinutes: 0 });
    if (!job.success) throw new Error(job.error);
    await waitFor("the job to fail", async () => {
      const status = await h.refresca.getTokenRefreshJobsStatus({ tenantId });
      return status.success && status.jobsFailed === 1;
    });
    expect((await events(tenantId)).map((e) => e.error_code)).toEqual(["INVALID_CREDENTIALS"]);
    // Flagged: its expiry-driven job is gone too.
    const status = await h.refresca.getTokenRefreshJobsStatus({ tenantId });
    expect(status).toMatchObject({ jobsDelayed: 0, jobsWaiting: 0 });
  });
});

describe("expiry-driven refresh", () => {
  it("queues a channel's next refresh before its token expires, and moves it after each refresh", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    const queue = h.refresca.internals.queue.refresh;
    const delayed = async () => (await queue.getDelayed()).filter((job) => job.data.tenantId === tenantId);
    const [first] = await delayed();
    expect(first).toBeDefined();
    // 10 minutes before the expiry of a 1-hour token.
    const runsAt = first!.timestamp + (first!.delay ?? 0);
    const [row] = await h.sql("select expires_at from channels where tenant_id = $1", [tenantId]);
    expect(Math.abs(runsAt - (row.expires_at.getTime() - 10 * 60_000))).toBeLessThan(2000);

    const refreshed = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    if (!refreshed.success) throw new Error(refreshed.error);
    const after = await delayed();
    expect(after).toHaveLength(1);
    expect(after[0]!.id).not.toBe(first!.id);
    expect(after[0]!.timestamp + (after[0]!.delay ?? 0)).toBeGreaterThan(runsAt);
  });

  it("removes a channel's planned refreshes when the channel is removed", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    expect(await h.refresca.getTokenRefreshJobsStatus({ tenantId })).toMatchObject({ jobsDelayed: 1 });
    expect(await h.refresca.channels.remove({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
    expect(await h.refresca.getTokenRefreshJobsStatus({ tenantId })).toMatchObject({ jobsDelayed: 0, jobsWaiting: 0 });
  });
});

describe("recurring refresh", () => {
  it("keeps one schedule per tenant, replaced by the next call, in SQL and in the queue", async () => {
    const tenantId = h.tenant();
    await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 30 * 86_400 });
    const first = await h.refresca.scheduleRecurringTokenRefresh({ tenantId, intervalMinutes: 120 });
    expect(first).toMatchObject({ success: true, intervalMinutes: 120, windowMinutes: 135 });
    const second = await h.refresca.scheduleRecurringTokenRefresh({ tenantId, intervalMinutes: 30 });
    expect(second).toMatchObject({ success: true, intervalMinutes: 30, windowMinutes: 60 });
    if (!first.success || !second.success) return;
    expect(second.jobId).toBe(first.jobId);
    const schedulers = (await h.refresca.internals.queue.sweep.getJobSchedulers()).filter((s) => s.key === first.jobId);
    expect(schedulers).toHaveLength(1);
    expect(schedulers[0]!.every).toBe(30 * 60_000);
    expect(await h.sql("select interval_minutes from refresh_schedules where tenant_id = $1", [tenantId])).toEqual([{ interval_minutes: 30 }]);
    expect(await h.refresca.cancelRecurringTokenRefresh({ tenantId })).toMatchObject({ cancelled: true });
    expect(await h.refresca.cancelRecurringTokenRefresh({ tenantId })).toMatchObject({ cancelled: false });
    expect((await h.refresca.internals.queue.sweep.getJobSchedulers()).filter((s) => s.key === first.jobId)).toHaveLength(0);
  });

  it("comes back from SQL after Redis lost its data, with every channel's expiry-driven refresh", async () => {
    const tenantId = h.tenant();
    await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 7200 });
    await h.addChannel({ tenantId, platform: "instagram", expiresInSeconds: 30 * 86_400 });
    const scheduled = await h.refresca.scheduleRecurringTokenRefresh({ tenantId, intervalMinutes: 60 });
    if (!scheduled.success) throw new Error(scheduled.error);
    // Redis restarted empty: every key of this installation is gone.
    await deleteKeys(h.keyPrefix);
    expect(await h.refresca.internals.queue.sweep.getJobScheduler(scheduled.jobId)).toBeUndefined();
    // The worker heals on its own every reconcileIntervalMs; the test asks it now instead of waiting.
    await worker.reconcile();
    expect(await h.refresca.internals.queue.sweep.getJobScheduler(scheduled.jobId)).toBeDefined();
    expect(await h.refresca.getTokenRefreshJobsStatus({ tenantId })).toMatchObject({ jobsDelayed: 2 });
  });
});

describe("per-tenant job status", () => {
  it("counts only the tenant's own jobs", async () => {
    const small = h.tenant();
    const large = h.tenant();
    for (let i = 0; i < 2; i++) await h.addChannel({ tenantId: small, platform: "facebook", expiresInSeconds: 30 * 86_400 });
    for (let i = 0; i < 5; i++) await h.addChannel({ tenantId: large, platform: "facebook", expiresInSeconds: 30 * 86_400 });
    const smallStatus = await h.refresca.getTokenRefreshJobsStatus({ tenantId: small });
    const largeStatus = await h.refresca.getTokenRefreshJobsStatus({ tenantId: large });
    expect(smallStatus).toEqual({ success: true, jobsActive: 0, jobsWaiting: 0, jobsDelayed: 2, jobsCompleted: 0, jobsFailed: 0 });
    expect(largeStatus).toEqual({ success: true, jobsActive: 0, jobsWaiting: 0, jobsDelayed: 5, jobsCompleted: 0, jobsFailed: 0 });
    expect(await h.refresca.getTokenRefreshJobsStatus({ tenantId: "no-such-tenant" })).toMatchObject({ code: "NOT_FOUND" });
  });
});

