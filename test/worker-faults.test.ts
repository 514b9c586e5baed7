import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { refreshDedupId, sweepSchedulerId } from "../src/core/queue/names";
import { SIM_META_APP_SECRET, SIM_TIKTOK_CLIENT_SECRET } from "../src/simulator";
import { startHarness, TEST_KEYS, type Harness } from "./support/harness";
import { freePort, startRedisServer, startWorkerProcess, workerEnv, type WorkerProcess } from "./support/processes";
import { waitFor } from "./support/wait";

const events = (h: Harness, tenantId: string) =>
  h.sql<{ channel_id: string; trigger: string; attempt: number; outcome: string; error_code: string | null }>(
    "select channel_id, trigger, attempt, outcome, error_code from refresh_events where tenant_id = $1 order by id",
    [tenantId],
  );

/** Stops every worker process, then the harness: each test leaves no process, schema or key behind. */
async function cleanUp(h: Harness | undefined, workers: WorkerProcess[]): Promise<void> {
  await Promise.all(workers.map((worker) => worker.stop()));
  await h?.close();
}

describe("a worker process killed with SIGKILL", () => {
  it(
    "loses no job, and sends no channel to the platform twice except the few the dead worker had in flight",
    async () => {
      // Latency keeps every worker's 3 slots inside platform calls most of the time, so the kill cuts calls short.
      const h = await startHarness({
        simulator: { latencyMs: { tiktok: 500 } },
        refresca: { queue: { keepCompleted: 1000, keepFailed: 1000 } },
      });
      const workers: WorkerProcess[] = [];
      try {
        const tenantId = h.tenant();
        // Tokens expiring in 2 h: their expiry-driven jobs stay delayed (1 h 50 min) and take no part.
        const channels: Array<{ id: string; refreshToken?: string }> = [];
        for (let i = 0; i < 200; i += 20) {
          channels.push(
            ...(await Promise.all(
              Array.from({ length: 20 }, () => h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 7200 })),
            )),
          );
        }
        const before = new Map(
          (await h.sql<{ id: string; expires_at: Date }>("select id, expires_at from channels where tenant_id = $1", [tenantId])).map(
            (row) => [row.id, row.expires_at],
          ),
        );
        const { queue } = h.refresca.internals;

        // Queued before any worker runs, so that every job's id can be read before one of them finishes.
        const queued = await queue.enqueueMany(
          tenantId,
          [...before].map(([id, expiresAt]) => ({ id, expiresAt })),
          "scheduled",
        );
        expect(queued).toBe(200);
        const jobIds = await Promise.all(channels.map((channel) => queue.refresh.getDeduplicationJobId(refreshDedupId(tenantId, channel.id))));
        expect(new Set(jobIds).size).toBe(200);

        const env = workerEnv(h, {
          REFRESCA_WORKER_CONCURRENCY: "3",
          // A dead worker's jobs are found stalled within seconds, and its channel locks expire after 2 + 15 s.
          REFRESCA_LOCK_DURATION_MS: "3000",
          REFRESCA_PLATFORM_TIMEOUT_MS: "2000",
        });
        const started = await Promise.allSettled([startWorkerProcess(env), startWorkerProcess(env)]);
        for (const result of started) if (result.status === "fulfilled") workers.push(result.value);
        for (const result of started) if (result.status === "rejected") throw result.reason;
        const [victim, survivor] = workers as [WorkerProcess, WorkerProcess];

        // Kill once both run, at a moment when at least 5 of the 6 slots wait on the platform: the victim then has
        // calls in flight for certain, and the kill lands within milliseconds of seeing them.
        await sleep(1000);
        const killBy = Date.now() + 15_000;
        while ((await h.simulator.stats()).inFlight < 5) {
          if (Date.now() > killBy) throw new Error("the two workers never had 5 platform calls in flight at once");
          await sleep(2);
        }
        await victim.stop("SIGKILL");
        expect((await h.simulator.stats()).calls.tiktok).toBeLessThan(150);
        // The latency was there for the kill to cut calls short; the rest of the run needs no more of it.
        await h.simulator.configure({ latencyMs: { tiktok: 100 } });

        const states = await waitFor(
          "every one of the 200 jobs to finish",
          async () => {
            const pending = await queue.refresh.getJobCounts("active", "waiting", "prioritized");
            if (Object.values(pending).some((count) => count > 0)) return null;
            // Retries waiting out their backoff are delayed jobs: ask each job.
            const all = await Promise.all(jobIds.map((id) => queue.refresh.getJobState(id!)));
            return all.every((state) => state === "completed" || state === "failed") ? all : null;
          },
          80_000,
        );
        expect(survivor.child.exitCode).toBeNull();

        const rows = await h.sql<{ id: string; status: string; last_outcome: string; last_error_code: string | null; expires_at: Date }>(
          "select id, status, last_outcome, last_error_code, expires_at from channels where tenant_id = $1",
          [tenantId],
        );
        expect(rows).toHaveLength(200);
        const flagged = rows.filter((row) => row.status === "needs_reauth");
        for (const row of flagged) expect(row).toMatchObject({ last_outcome: "failure", last_error_code: "ROTATION_LOST" });
        for (const row of rows.filter((row) => row.status !== "needs_reauth")) {
          expect(row).toMatchObject({ status: "active", last_outcome: "success", last_error_code: null });
          expect(row.expires_at.getTime()).toBeGreaterThan(before.get(row.id)!.getTime());
        }
        // Only the killed worker's 3 slots can have lost a rotated token; their jobs, and only theirs, failed.
        expect(flagged.length).toBeLessThanOrEqual(3);
        expect(states.filter((state) => state === "failed")).toHaveLength(flagged.length);

        // The simulator does not rotate when the caller disconnects during its latency: a call the kill cut short
        // left the token valid, and the retry presented it a second time and succeeded. A call it answered before
        // the kill rotated the token: the retry's second presentation is a reuse, and the channel is ROTATION_LOST.
        const stats = await h.simulator.stats();
        const calls = new Map(channels.map((channel) => [channel.id, stats.callsForToken(channel.refreshToken!)]));
        const presentedTwice = [...calls].filter(([, count]) => count !== 1);
        expect(presentedTwice.length).toBeGreaterThanOrEqual(1); // the kill did cut calls short
        expect(presentedTwice.length).toBeLessThanOrEqual(3);
        for (const [, count] of presentedTwice) expect(count).toBe(2);
        for (const row of flagged) expect(calls.get(row.id)).toBe(2);
        expect(stats.reuseDetected).toBe(flagged.length);
        expect(stats.calls.tiktok).toBe(200 + presentedTwice.length);

        // Each channel saved exactly one outcome: no second refresh, no refresh after a flag.
        const saved = await events(h, tenantId);
        for (const channel of channels) {
          const own = saved.filter((event) => event.channel_id === channel.id);
          const expected = flagged.some((row) => row.id === channel.id)
            ? [{ outcome: "failure", error_code: "ROTATION_LOST" }]
            : [{ outcome: "success", error_code: null }];
          expect(own.map(({ outcome, error_code }) => ({ outcome, error_code }))).toEqual(expected);
        }
      } finally {
        await cleanUp(h, workers);
      }
    },
    120_000,
  );
});

describe("Redis restarted empty while a worker runs", () => {
  it(
    "answers QUEUE_UNAVAILABLE while Redis is down, then rebuilds schedules from SQL, sweeps again, and every channel keeps its plan",
    async () => {
      const redis = await startRedisServer();
      let h: Harness | undefined;
      try {
        h = await startHarness({ refresca: { redisUrl: redis.url } });
        const harness = h;
        const { queue } = h.refresca.internals;
        await h.refresca.startWorker({ reconcileIntervalMs: 1000 });
        const tenantId = h.tenant();
        const sweepEvents = async (channelId: string) =>
          (await events(harness, tenantId)).filter((e) => e.channel_id === channelId && e.trigger === "sweep" && e.outcome === "success");

        const due = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 1800 });
        await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 30 * 86_400 });
        expect(await h.refresca.scheduleRecurringTokenRefresh({ tenantId, intervalMinutes: 1 })).toMatchObject({ success: true });
        await waitFor("the first sweep to refresh the due channel", async () => (await sweepEvents(due.id)).length === 1);
        // Due now, but the next sweep is a minute away: only a sweep re-created after the restart refreshes it in time.
        const later = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 1800 });
        expect(await events(h, tenantId)).toHaveLength(1);

        await redis.kill();
        for (const pause of [0, 3000]) {
          await sleep(pause);
          const asked = Date.now();
          const answer = await h.refresca.getTokenRefreshJobsStatus({ tenantId });
          expect(answer).toMatchObject({ success: false, code: "QUEUE_UNAVAILABLE" });
          expect(Date.now() - asked).toBeLessThan(3000);
        }

        await redis.start();
        const rebuilt = await waitFor("the tenant's sweep scheduler to be re-created from SQL", async () => {
          try {
            return await queue.sweep.getJobScheduler(sweepSchedulerId(tenantId));
          } catch {
            return null; // the harness's own connection may still be reconnecting
          }
        });
        expect(rebuilt).toMatchObject({ every: 60_000 });
        await waitFor("a sweep after the restart to refresh the channel that came due", async () => (await sweepEvents(later.id)).length === 1);

        const active = await h.sql<{ id: string; expires_at: Date; next_refresh_at: Date | null }>(
          "select id, expires_at, next_refresh_at from channels where tenant_id = $1 and status = 'active'",
          [tenantId],
        );
        expect(active).toHaveLength(3);
        // Each channel's next refresh is planned in SQL, before its token expires; none is due soon, so Redis holds
        // no job for them (before this design it held one delayed job per channel, rebuilt after the restart).
        for (const channel of active) {
          expect(channel.next_refresh_at!.getTime()).toBeGreaterThan(Date.now());
          expect(channel.next_refresh_at!.getTime()).toBeLessThan(channel.expires_at.getTime());
        }
        expect(await h.refresca.getTokenRefreshJobsStatus({ tenantId })).toMatchObject({ success: true, jobsDelayed: 0 });
        expect(await h.refresca.internals.store.plans.countUnplanned(0)).toBe(0);
      } finally {
        await h?.close();
        await redis.kill();
      }
    },
    60_000,
  );
});

describe("graceful shutdown of a worker process", () => {
  it("on SIGTERM finishes and saves the refresh in flight, then exits with code 0", async () => {
    const h = await startHarness({ simulator: { latencyMs: { tiktok: 1500 } } });
    const workers: WorkerProcess[] = [];
    try {
      const tenantId = h.tenant();
      const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 7200 });
      const worker = await startWorkerProcess(workerEnv(h, { REFRESCA_LOCK_DURATION_MS: "3000" }));
      workers.push(worker);
      const job = await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: channel.id, delayMinutes: 0 });
      if (!job.success) throw new Error(job.error);
      await waitFor("the refresh to reach the platform", async () => (await h.simulator.stats()).inFlight === 1);
      const signalled = Date.now();
      worker.child.kill("SIGTERM");
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      // It waited for the platform's answer rather than leaving at once.
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(1000);
      expect(await events(h, tenantId)).toEqual([
        { channel_id: channel.id, trigger: "scheduled", attempt: 1, outcome: "success", error_code: null },
      ]);
      expect(await h.refresca.internals.queue.refresh.getJobState(job.jobId)).toBe("completed");
    } finally {
      await cleanUp(h, workers);
    }
  });

  it("refuses to start when REFRESCA_SHUTDOWN_TIMEOUT_MS leaves no room for a platform call and its save, saying why", async () => {
    // Such a worker, stopped during a refresh, either outlived its bound or closed its connections under a rotated
    // token still arriving from the platform: neither saved nor stashed.
    const h = await startHarness();
    try {
      const env = workerEnv(h, { REFRESCA_PLATFORM_TIMEOUT_MS: "2500", REFRESCA_SHUTDOWN_TIMEOUT_MS: "300" });
      await expect(startWorkerProcess(env)).rejects.toThrow(
        /exited at start[\s\S]*REFRESCA_SHUTDOWN_TIMEOUT_MS \(shutdownTimeoutMs\) is 300 ms[\s\S]*REFRESCA_PLATFORM_TIMEOUT_MS[\s\S]*at least 7900/,
      );
    } finally {
      await h.close();
    }
  });
});

describe("metrics of a worker process", () => {
  it("serves refresh counts, durations and queue figures on /metrics, with no token or secret, and /healthz", async () => {
    const h = await startHarness();
    const workers: WorkerProcess[] = [];
    try {
      const tenantId = h.tenant();
      const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 7200 });
      const port = await freePort();
      workers.push(await startWorkerProcess(workerEnv(h, { METRICS_PORT: String(port) })));
      const job = await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: channel.id, delayMinutes: 0 });
      if (!job.success) throw new Error(job.error);
      await waitFor("the refresh", async () => (await events(h, tenantId)).some((e) => e.outcome === "success"));
      await waitFor("the job to complete", async () => (await h.refresca.internals.queue.refresh.getJobState(job.jobId)) === "completed");

      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.status).toBe(200);
      const body = await response.text();
      expect(body).toMatch(/^refresca_refreshes_total\{platform="tiktok",outcome="success"\} [1-9]\d*$/m);
      expect(body).toMatch(/^refresca_refresh_duration_seconds_count\{platform="tiktok"\} [1-9]\d*$/m);
      expect(body).toMatch(/^refresca_refresh_duration_seconds_bucket\{le="\+Inf",platform="tiktok"\} [1-9]\d*$/m);
      for (const state of ["active", "waiting", "delayed", "completed", "failed"]) {
        expect(body).toMatch(new RegExp(`^refresca_queue_jobs\\{queue="refresh",state="${state}"\\} \\d+$`, "m"));
      }
      // The finished job is counted; every channel has its next refresh planned.
      expect(body).toMatch(/^refresca_queue_jobs\{queue="refresh",state="completed"\} [1-9]\d*$/m);
      expect(body).toMatch(/^refresca_channels_unplanned 0$/m);

      const tokens = await h.simulator.issuedTokens();
      expect(tokens.length).toBeGreaterThanOrEqual(4); // the channel's first pair and the rotated pair
      for (const secret of [...tokens, SIM_META_APP_SECRET, SIM_TIKTOK_CLIENT_SECRET, TEST_KEYS.split(":")[1]!, tenantId, channel.id]) {
        expect(body).not.toContain(secret);
      }

      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok", unplannedChannels: 0 });
    } finally {
      await cleanUp(h, workers);
    }
  });
});
