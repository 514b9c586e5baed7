import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { REFRESH_QUEUE } from "../src/core/queue/names";
import { DEFAULT_QUEUE_SETTINGS } from "../src/core/queue/settings";
import { TEST_REDIS_URL } from "./env";
import { deleteKeys, startHarness, type Harness } from "./support/harness";
import { workerEnv } from "./support/processes";
import { waitFor } from "./support/wait";

// Issue 10, fault 1 and fault 5: nothing that happens to a job may end a channel's refreshes, and a platform's "not
// before" holds against sweeps and manual refreshes. Time is scaled down: tokens live seconds, the platform lead and
// the retry backoff are seconds (they are QueueSettings), and the scheduler looks 1 s ahead every 200 ms.
const FAST = {
  expiryLeadMs: { ...DEFAULT_QUEUE_SETTINGS.expiryLeadMs, tiktok: 3000, instagram: 4000 },
  schedulerIntervalMs: 200,
  claimAheadMs: 1000,
  claimLeaseMs: 2000,
  attemptLeaseMs: 3000,
  retryBaseMs: 1000,
  retryCapMs: 4000,
  tooEarlyRetryMs: 1000,
};

type Event = { channel_id: string; trigger: string; outcome: string; error_code: string | null; at: number };
const events = async (h: Harness, tenantId: string): Promise<Event[]> =>
  h.sql(
    `select channel_id, trigger, outcome, error_code, (extract(epoch from created_at) * 1000)::float8 as at
       from refresh_events where tenant_id = $1 order by id`,
    [tenantId],
  );
/** The channels with a successful refresh after `since` (ms). */
const refreshedSince = async (h: Harness, tenantId: string, since: number) =>
  new Set((await events(h, tenantId)).filter((e) => e.outcome === "success" && e.at > since).map((e) => e.channel_id));

describe.concurrent("fault 1: nothing a job goes through ends a channel's refreshes", () => {
  it("an outage around the refresh time: every channel is refreshed again soon after the platform returns", async () => {
    // 10 TikTok channels, no recurring sweep, the job's default attempts and backoff; TikTok answers 503 for 14 s.
    const h = await startHarness({ refresca: { queue: FAST } });
    try {
      const tenantId = h.tenant();
      await h.simulator.inject({ kind: "unavailable", platform: "tiktok", forSeconds: 14 });
      const back = Date.now() + 14_000;
      // Tokens living 10 s: each channel's refresh is due 2.5 s before expiry, inside the outage.
      const channels = await Promise.all(Array.from({ length: 10 }, () => h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 10 })));
      await h.refresca.startWorker();
      await waitFor("a failed attempt of every channel", async () => {
        const failed = new Set((await events(h, tenantId)).filter((e) => e.error_code === "PLATFORM_UNAVAILABLE").map((e) => e.channel_id));
        return failed.size === channels.length;
      });
      await sleep(Math.max(0, back - Date.now()));
      await waitFor(
        "every channel to be refreshed after TikTok came back",
        async () => (await refreshedSince(h, tenantId, back)).size === channels.length,
        15_000,
      );
    } finally {
      await h.close();
    }
  }, 60_000);

  it("TOO_EARLY without a time: the refresh is tried again later", async () => {
    const h = await startHarness({ refresca: { queue: FAST }, simulator: { instagram: { minAgeSeconds: 30 * 86_400 } } });
    try {
      const tenantId = h.tenant();
      await h.addChannel({ tenantId, platform: "instagram", expiresInSeconds: 16 });
      await h.refresca.startWorker();
      await waitFor("Instagram to refuse the refresh as too early", async () => (await events(h, tenantId)).some((e) => e.error_code === "TOO_EARLY"));
      const refused = Date.now();
      await h.simulator.configure({ instagram: { minAgeSeconds: 0 } });
      await waitFor("a later refresh to succeed", async () => (await refreshedSince(h, tenantId, refused)).size === 1, 10_000);
    } finally {
      await h.close();
    }
  }, 60_000);

  it("a rate limit longer than a job may wait: the refresh happens once the platform allows it", async () => {
    const h = await startHarness({ refresca: { queue: { ...FAST, maxRateLimitWaitMs: 1000 } } });
    try {
      const tenantId = h.tenant();
      await h.simulator.inject({ kind: "throttle", platform: "tiktok", retryAfterSeconds: 3 });
      await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 10 });
      await h.refresca.startWorker();
      await waitFor("TikTok to rate limit the refresh", async () => (await events(h, tenantId)).some((e) => e.error_code === "RATE_LIMITED"));
      const limited = Date.now();
      await waitFor("the refresh after the rate limit", async () => (await refreshedSince(h, tenantId, limited)).size === 1, 12_000);
    } finally {
      await h.close();
    }
  }, 60_000);

  it("a job that stalls twice (its worker died twice): the channel is refreshed all the same", async () => {
    const h = await startHarness({ refresca: { queue: FAST } });
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    // A worker that takes refresh jobs and dies with them: its locks are never renewed, so each job it takes stalls.
    // It takes the job again after the first stall; after the second, BullMQ fails the job when it is next taken.
    const rogue = new Worker(REFRESH_QUEUE, () => new Promise(() => {}), {
      connection,
      prefix: h.refresca.internals.queue.names.bullPrefix,
      concurrency: 3,
      lockDuration: 1000,
      stalledInterval: 500,
      maxStalledCount: 1,
      skipLockRenewal: true,
    });
    rogue.on("error", () => {});
    try {
      const tenantId = h.tenant();
      const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 10 });
      const queue = h.refresca.internals.queue.refresh;
      const jobsOfChannel = async () => (await queue.getJobs(["waiting", "delayed", "active", "failed"])).filter((job) => job?.data.channelId === channel.id);
      // What a worker's scheduler does: queue the channel's refresh once it is due soon (a no-op where the refresh
      // was queued when the channel was saved).
      const scheduler = (h.refresca.internals as { scheduler?: { tick(): Promise<unknown> } }).scheduler;
      await waitFor("the channel's refresh job to be queued", async () => {
        await scheduler?.tick();
        return (await jobsOfChannel()).length > 0;
      });
      const failed = await waitFor(
        "the job to fail after stalling twice",
        async () => (await jobsOfChannel()).find((job) => job.failedReason?.includes("stalled")),
        20_000,
      );
      expect(failed.failedReason).toContain("stalled more than allowable limit");
      await rogue.close(true);
      const died = Date.now();
      await h.refresca.startWorker();
      await waitFor("the channel to be refreshed", async () => (await refreshedSince(h, tenantId, died)).size === 1, 10_000);
    } finally {
      await rogue.close(true).catch(() => {});
      connection.disconnect();
      await h.close();
    }
  }, 60_000);

  it("Redis refusing to queue right after a successful save: the next refresh still happens", async () => {
    const h = await startHarness({ refresca: { queue: FAST }, simulator: { tiktok: { accessLifetimeSeconds: 10 } } });
    try {
      const tenantId = h.tenant();
      const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
      await h.refresca.startWorker();
      const refresh = h.refresca.internals.queue.refresh;
      const { add, addBulk } = refresh;
      // Every attempt to queue a job fails for a second, starting with the manual refresh's own save.
      refresh.add = () => Promise.reject(new Error("simulated Redis failure"));
      refresh.addBulk = () => Promise.reject(new Error("simulated Redis failure"));
      let answer;
      try {
        answer = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
        await sleep(1000);
      } finally {
        refresh.add = add;
        refresh.addBulk = addBulk;
      }
      expect(answer).toMatchObject({ success: true });
      // The new token lives 10 s: the next refresh is due in about 7.5 s, and nobody asks for it by hand.
      await waitFor(
        "the next refresh, queued by nobody by hand",
        async () => (await events(h, tenantId)).some((e) => e.outcome === "success" && e.trigger !== "manual"),
        15_000,
      );
    } finally {
      await h.close();
    }
  }, 60_000);

  it("Redis restored from an older snapshot, twice: every channel is refreshed again and no token expires", async () => {
    const queue = { ...FAST, expiryLeadMs: { ...FAST.expiryLeadMs, tiktok: 5000 } };
    const h = await startHarness({ refresca: { queue }, simulator: { tiktok: { accessLifetimeSeconds: 20 } } });
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const tenantId = h.tenant();
      const channels = await Promise.all(Array.from({ length: 5 }, () => h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 20 })));
      await h.refresca.startWorker();
      await sleep(1000);
      const snapshot = await dumpKeys(redis, h.keyPrefix);
      const expired = async () =>
        (await h.sql("select count(*)::int as n from channels where tenant_id = $1 and expires_at <= now()", [tenantId]))[0].n;

      const start = Date.now();
      await waitFor("the first refresh of every channel", async () => (await refreshedSince(h, tenantId, start)).size === 5, 25_000);
      const firstRound = Date.now();
      await restoreKeys(redis, h.keyPrefix, snapshot);
      // Again just as the second round's refreshes are queued (15 s after the first: 20 s tokens, 5 s lead).
      await sleep(Math.max(0, firstRound + 14_400 - Date.now()));
      await restoreKeys(redis, h.keyPrefix, snapshot);
      await waitFor(
        "a second refresh of every channel",
        async () => {
          expect(await expired()).toBe(0);
          return (await refreshedSince(h, tenantId, firstRound + 1000)).size === channels.length;
        },
        20_000,
      );
      expect(await expired()).toBe(0);
    } finally {
      redis.disconnect();
      await h.close();
    }
  }, 90_000);
});

describe("fault 5: a platform's \"not before\" holds against sweeps and manual refreshes", () => {
  it("Retry-After with a recurring sweep: at most 2 calls per channel in 170 % of the wait", async () => {
    // Scaled by 1/10: Retry-After 30 s (for 300 s), a sweep every 6 s (for every minute), watched for 17 s (for 170 s).
    // The recurring sweep's own job scheduler runs every minute at the least, so the test adds the sweep jobs itself,
    // exactly as the scheduler would, every 6 s.
    const h = await startHarness();
    try {
      const tenantId = h.tenant();
      const channels = await Promise.all(Array.from({ length: 5 }, () => h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 1800 })));
      await h.simulator.inject({ kind: "throttle", platform: "tiktok", retryAfterSeconds: 30, count: 10_000 });
      await h.refresca.startWorker();
      const started = Date.now();
      expect(await h.refresca.scheduleRecurringTokenRefresh({ tenantId, intervalMinutes: 1 })).toMatchObject({ success: true });
      const { sweep } = h.refresca.internals.queue;
      const stats = async () => h.simulator.stats();
      await waitFor("the first sweep's calls", async () => {
        const s = await stats();
        return channels.every((channel) => s.callsForToken(channel.refreshToken!) >= 1);
      });
      // A manual refresh of every channel during the wait does not call TikTok either.
      const batch = await h.refresca.refreshMultipleChannelTokens({ tenantId, channelIds: channels.map((c) => c.id) });
      expect(batch).toMatchObject({ success: true, failed: channels.length });
      if (batch.success) for (const result of batch.results) expect(result.code).toBe("RATE_LIMITED");
      for (let next = started + 6000; next < started + 17_000; next += 6000) {
        await sleep(Math.max(0, next - Date.now()));
        await sweep.add("sweep", { tenantId });
      }
      await sleep(Math.max(0, started + 17_000 - Date.now()));
      const s = await stats();
      const calls = channels.map((channel) => s.callsForToken(channel.refreshToken!));
      for (const count of calls) expect(count).toBeLessThanOrEqual(2);
    } finally {
      await h.close();
    }
  }, 60_000);

  it("Meta throttling the whole app holds every channel of that app, on every worker", async () => {
    const h = await startHarness();
    try {
      const tenantId = h.tenant();
      const first = await h.addChannel({ tenantId, platform: "facebook" });
      const second = await h.addChannel({ tenantId, platform: "instagram", meta: { connectedVia: "facebook" } });
      // Graph code 4: the application's request limit, with an estimated 2 minutes to regain access.
      await h.simulator.inject({ kind: "throttle", platform: "facebook", graphCode: 4, regainAccessMinutes: 2 });
      expect(await h.refresca.refreshChannelToken({ tenantId, channelId: first.id })).toMatchObject({ code: "RATE_LIMITED" });
      const calls = (await h.simulator.stats()).totalCalls;
      const answer = await h.refresca.refreshChannelToken({ tenantId, channelId: second.id });
      expect(answer).toMatchObject({ success: false, code: "RATE_LIMITED" });
      if (!answer.success) expect(answer.retryAfterSeconds).toBeGreaterThan(60);
      expect((await h.simulator.stats()).totalCalls).toBe(calls);
    } finally {
      await h.close();
    }
  });
});

describe("the health check of the invariant", () => {
  it("`refresca doctor` and the worker's count name no channel while every plan holds, and name the ones that break it", async () => {
    const h = await startHarness();
    try {
      const tenantId = h.tenant();
      const ok = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 7200 });
      const broken = await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 30 * 86_400 });
      await h.addChannel({ tenantId, platform: "whatsapp", neverExpires: true });
      const doctor = async () => {
        try {
          const { stdout } = await promisify(execFile)(process.execPath, ["bin/refresca.js", "doctor"], {
            cwd: fileURLToPath(new URL("..", import.meta.url)),
            env: workerEnv(h),
          });
          return { code: 0, stdout };
        } catch (error) {
          const failed = error as { code: number; stdout: string };
          return { code: failed.code, stdout: failed.stdout };
        }
      };
      expect(await doctor()).toMatchObject({ code: 0, stdout: expect.stringContaining("OK") });
      expect(await h.refresca.internals.store.plans.countUnplanned(0)).toBe(0);
      // A plan lost (what no code path may do): the doctor names the channel, and the count says 1.
      await h.sql("update channels set next_refresh_at = null where tenant_id = $1 and id = $2", [tenantId, broken.id]);
      const found = await doctor();
      expect(found.code).toBe(1);
      expect(found.stdout).toContain(broken.id);
      expect(found.stdout).not.toContain(ok.id);
      expect(await h.refresca.internals.store.plans.countUnplanned(h.refresca.internals.queue.settings.planGraceMs)).toBe(1);
    } finally {
      await h.close();
    }
  }, 60_000);
});

/** Every key under the prefix, as DUMP gives it, with its remaining time to live. */
async function dumpKeys(redis: Redis, prefix: string): Promise<Array<[string, Buffer, number]>> {
  const dumped: Array<[string, Buffer, number]> = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    for (const key of keys) {
      const value = await redis.dumpBuffer(key);
      if (value) dumped.push([key, value, Math.max(0, await redis.pttl(key))]);
    }
  } while (cursor !== "0");
  return dumped;
}

/** Replaces every key under the prefix with the snapshot: what a Redis restored from an older backup holds. */
async function restoreKeys(redis: Redis, prefix: string, snapshot: Array<[string, Buffer, number]>): Promise<void> {
  await deleteKeys(prefix);
  for (const [key, value, ttl] of snapshot) await redis.restore(key, ttl, value, "REPLACE");
}
