import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REFRESH_QUEUE } from "../src/core/queue/names";
import { TEST_REDIS_URL } from "./env";
import type { RefreshWorker } from "../src/core/queue/worker";
import { deleteKeys, startHarness, type Harness } from "./support/harness";
import { waitFor } from "./support/wait";
import { redisNames } from "../src/core/redis-names";

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
    // Nothing queued: no job for the foreign channel, and the other tenant's own channel is not due for a while.
    expect(status).toMatchObject({ success: true, jobsActive: 0, jobsWaiting: 0, jobsDelayed: 0 });
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
    const lockKey = redisNames(h.keyPrefix).channelLock(tenantId, channel.id);
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

describe("the plan in SQL", () => {
  const plan = async (tenantId: string) =>
    (await h.sql<{ next_refresh_at: Date | null; expires_at: Date }>("select next_refresh_at, expires_at from channels where tenant_id = $1", [tenantId]))[0]!;
  const jobsOf = async (tenantId: string) =>
    (await h.refresca.internals.queue.refresh.getJobs(["waiting", "delayed", "active"])).filter((job) => job?.data.tenantId === tenantId);

  it("plans a channel's next refresh before its token expires, moves it after each refresh, and puts nothing in Redis meanwhile", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    const first = await plan(tenantId);
    // 10 minutes before the expiry of a 1-hour token.
    expect(Math.abs(first.next_refresh_at!.getTime() - (first.expires_at.getTime() - 10 * 60_000))).toBeLessThan(2000);
    await worker.schedule();
    expect(await jobsOf(tenantId)).toEqual([]);

    const refreshed = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    if (!refreshed.success) throw new Error(refreshed.error);
    const after = await plan(tenantId);
    expect(after.next_refresh_at!.getTime()).toBeGreaterThan(first.next_refresh_at!.getTime());
    expect(Math.abs(after.next_refresh_at!.getTime() - (after.expires_at.getTime() - 10 * 60_000))).toBeLessThan(2000);
    expect(await jobsOf(tenantId)).toEqual([]);
  });

  it("queues the refresh of a channel due within the claim window, delayed until due, and refreshes it then", async () => {
    const tenantId = h.tenant();
    // Expires in 8 s: due with a quarter of that left, in 6 s, inside the scheduler's 2-minute window.
    await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 8 });
    const due = (await plan(tenantId)).next_refresh_at!;
    await worker.schedule();
    const [job] = await jobsOf(tenantId);
    expect(job).toBeDefined();
    expect(job!.data).toMatchObject({ trigger: "expiry", version: 1 });
    expect(Math.abs(job!.timestamp + (job!.delay ?? 0) - due.getTime())).toBeLessThan(2000);
    // Claimed: the plan moved one lease ahead, so a lost job comes due again.
    expect((await plan(tenantId)).next_refresh_at!.getTime()).toBeGreaterThan(due.getTime() + 60_000);
    await waitFor("the planned refresh", async () => (await events(tenantId)).some((e) => e.trigger === "expiry" && e.outcome === "success"), 15_000);
  });

  it("removes a channel's pending refresh when the channel is removed", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    expect(await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: channel.id, delayMinutes: 30 })).toMatchObject({ success: true });
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

  it("comes back from SQL after Redis lost its data: the sweep, and a queued refresh once its claim's lease is over", async () => {
    const tenantId = h.tenant();
    await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 7200 });
    const scheduled = await h.refresca.scheduleRecurringTokenRefresh({ tenantId, intervalMinutes: 60 });
    if (!scheduled.success) throw new Error(scheduled.error);
    // Another tenant, without a sweep: its channel is due in 90 s (a quarter of its 2 minutes left), so the scheduler
    // queues its refresh now, delayed until then.
    const planned = h.tenant();
    await h.addChannel({ tenantId: planned, platform: "tiktok", expiresInSeconds: 120 });
    await worker.schedule();
    expect(await h.refresca.getTokenRefreshJobsStatus({ tenantId: planned })).toMatchObject({ jobsDelayed: 1 });
    // Redis restarted empty: every key of this installation is gone.
    await deleteKeys(h.keyPrefix);
    expect(await h.refresca.internals.queue.sweep.getJobScheduler(scheduled.jobId)).toBeUndefined();
    // The worker heals on its own every reconcileIntervalMs; the test asks it now instead of waiting.
    await worker.reconcile();
    expect(await h.refresca.internals.queue.sweep.getJobScheduler(scheduled.jobId)).toBeDefined();
    // The lost refresh is still planned in SQL, one lease ahead; once that is over (moved here instead of waited
    // for), the next scheduler tick queues it again.
    await h.sql("update channels set next_refresh_at = now() where tenant_id = $1", [planned]);
    await worker.schedule();
    await waitFor("the lost refresh to run", async () => (await events(planned)).some((e) => e.trigger === "expiry" && e.outcome === "success"));
  });
});

describe("per-tenant job status", () => {
  it("counts only the tenant's own jobs", async () => {
    const small = h.tenant();
    const large = h.tenant();
    const later = async (tenantId: string) => {
      const channel = await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 30 * 86_400 });
      expect(await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: channel.id, delayMinutes: 60 })).toMatchObject({ success: true });
    };
    for (let i = 0; i < 2; i++) await later(small);
    for (let i = 0; i < 5; i++) await later(large);
    const smallStatus = await h.refresca.getTokenRefreshJobsStatus({ tenantId: small });
    const largeStatus = await h.refresca.getTokenRefreshJobsStatus({ tenantId: large });
    expect(smallStatus).toEqual({ success: true, jobsActive: 0, jobsWaiting: 0, jobsDelayed: 2, jobsCompleted: 0, jobsFailed: 0 });
    expect(largeStatus).toEqual({ success: true, jobsActive: 0, jobsWaiting: 0, jobsDelayed: 5, jobsCompleted: 0, jobsFailed: 0 });
    expect(await h.refresca.getTokenRefreshJobsStatus({ tenantId: "no-such-tenant" })).toMatchObject({ code: "NOT_FOUND" });
  });
});


describe("per-tenant job status with many jobs", () => {
  it("stays exact in every state, whatever the number of jobs, and counts no other tenant's", async () => {
    // No worker: the test moves jobs between states itself.
    const q = await startHarness();
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const taker = new Worker(REFRESH_QUEUE, null, { connection, prefix: q.refresca.internals.queue.names.bullPrefix, lockDuration: 60_000 });
    try {
      const tenantId = q.tenant();
      const other = q.tenant();
      const { queue } = q.refresca.internals;
      const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, expiresAt: new Date() }));
      await q.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 7200 });
      await q.addChannel({ tenantId: other, platform: "tiktok", expiresInSeconds: 7200 });
      // 2,000 delayed (scheduled an hour ahead), 30 due now, and the other tenant's 50 due now.
      for (let i = 0; i < 2000; i += 500) {
        await Promise.all(ids(500, `later-${i}-`).map((c) => queue.enqueueRefresh(tenantId, c.id, { delayMs: 3_600_000, trigger: "scheduled" })));
      }
      await queue.enqueueMany(tenantId, ids(30, "now-"), "sweep");
      await queue.enqueueMany(other, ids(50, "other-"), "sweep");
      expect(await q.refresca.getTokenRefreshJobsStatus({ tenantId })).toEqual({
        success: true, jobsActive: 0, jobsWaiting: 30, jobsDelayed: 2000, jobsCompleted: 0, jobsFailed: 0,
      });
      // A worker takes 7 jobs off the queue (its own tenant's or the other's, in queue order).
      const taken = [];
      for (let i = 0; i < 7; i++) taken.push(await taker.getNextJob("taker"));
      const mine = taken.filter((job) => job?.data.tenantId === tenantId).length;
      expect(await q.refresca.getTokenRefreshJobsStatus({ tenantId })).toMatchObject({ jobsActive: mine, jobsWaiting: 30 - mine, jobsDelayed: 2000 });
      // Finished as a worker finishes them (BullMQ's move, then the bookkeeping the worker's events do).
      for (const job of taken) {
        if (!job || job.data.tenantId !== tenantId) continue;
        await job.moveToCompleted({}, "taker", false);
        await queue.tenantJobs.finished(tenantId, job.id!, "completed");
      }
      expect(await q.refresca.getTokenRefreshJobsStatus({ tenantId })).toEqual({
        success: true, jobsActive: 0, jobsWaiting: 30 - mine, jobsDelayed: 2000, jobsCompleted: mine, jobsFailed: 0,
      });
      expect(await q.refresca.getTokenRefreshJobsStatus({ tenantId: other })).toMatchObject({ jobsDelayed: 0, jobsWaiting: 50 - (7 - mine) });
    } finally {
      await taker.close(true);
      connection.disconnect();
      await q.close();
    }
  }, 60_000);
});
