import { DelayedError, UnrecoverableError } from "bullmq";
import type { ErrorCode } from "../errors";
import type { Logger } from "../logger";
import type { ChannelRefresher, RefreshOutcome } from "../refresh";
import type { Store } from "../store";
import type { RefreshJob, RefreshQueue, SweepJob } from "./queue";

/** What a job does after an outcome. The one place where our codes become BullMQ's signals. */
export type JobSignal = "complete" | "retry" | "defer" | "fail";

export function signalFor(code: ErrorCode, retryAfterMs: number | undefined): JobSignal {
  switch (code) {
    case "PLATFORM_UNAVAILABLE":
    case "INVALID_RESPONSE":
    case "STORE_UNAVAILABLE":
    case "QUEUE_UNAVAILABLE":
    case "INTERNAL":
      return "retry";
    case "RATE_LIMITED":
    case "REFRESH_IN_PROGRESS":
      return "defer";
    case "TOO_EARLY":
      return retryAfterMs !== undefined ? "defer" : "fail";
    // Nothing left to do: the channel is gone, never expires, or was reconnected meanwhile.
    case "NOT_FOUND":
    case "NEVER_EXPIRES":
    case "SUPERSEDED":
      return "complete";
    default:
      return "fail";
  }
}

// A job finding its channel locked waits this long, then steps aside until the lock expires (its holder may be a
// dead worker whose lock outlives it) instead of holding a job slot meanwhile.
const JOB_LOCK_WAIT_MS = 2000;

export interface RefreshJobResult {
  outcome: "refreshed" | "skipped";
  newExpiresAt?: string | null;
  reason?: string;
}

/** Processes one refresh job: refresh the channel, then complete, retry, wait for a rate limit, or fail. */
export function createRefreshProcessor(deps: { refresher: ChannelRefresher; queue: RefreshQueue; logger: Logger }) {
  const { settings } = deps.queue;
  return async (job: RefreshJob, token?: string): Promise<RefreshJobResult> => {
    const { tenantId, channelId, trigger, ifExpiresBy, version } = job.data;
    const attempt = job.attemptsMade + 1;
    // A job queued for the channel's plan leaves retries and waits to the plan: every outcome wrote the next one.
    const planned = version !== undefined;
    const log = (line: string) => job.log(line).catch(() => 0);
    await log(`attempt ${attempt}/${job.opts.attempts ?? 1}: refreshing channel ${channelId} (${trigger})`);
    const outcome: RefreshOutcome = await deps.refresher.refresh({
      tenantId,
      channelId,
      trigger,
      jobId: job.id,
      attempt,
      ...(ifExpiresBy && { ifExpiresBy: new Date(ifExpiresBy) }),
      ...(planned && { onlyIfVersion: version }),
      lockWaitMs: JOB_LOCK_WAIT_MS,
    });
    if (outcome.success) {
      if (outcome.skipped === "not-due" || outcome.skipped === "refreshed-by-another-caller") {
        await log(`skipped: ${outcome.skipped}; token expires ${outcome.newExpiresAt}`);
        return { outcome: "skipped", reason: outcome.skipped, newExpiresAt: outcome.newExpiresAt };
      }
      await log(`refreshed: token now expires ${outcome.newExpiresAt}`);
      return { outcome: "refreshed", newExpiresAt: outcome.newExpiresAt };
    }

    const summary = `${outcome.code}: ${outcome.error}`;
    const signal = signalFor(outcome.code, outcome.retryAfterMs);
    if (planned && signal !== "complete") {
      // The failure planned the next attempt (or, flagged, none); another holder of the lock writes its own outcome.
      await log(`not refreshed: ${summary}; the channel's plan holds the next attempt`);
      if (signal === "defer") return { outcome: "skipped", reason: outcome.code };
      throw new UnrecoverableError(summary);
    }
    switch (signal) {
      case "complete":
        await log(`nothing to do: ${summary}`);
        return { outcome: "skipped", reason: outcome.code };
      case "retry":
        await log(`failed, will retry with backoff: ${summary}`);
        throw new Error(summary);
      case "fail":
        await log(`failed for good: ${summary}`);
        throw new UnrecoverableError(summary);
      case "defer": {
        const deferrals = (job.data.rateLimitDeferrals ?? 0) + 1;
        const wait = outcome.retryAfterMs ?? settings.defaultRateLimitWaitMs;
        if (deferrals > settings.maxRateLimitDeferrals || wait > settings.maxRateLimitWaitMs) {
          // The job stops waiting; the channel does not: its plan already waits for the platform's "not before".
          await log(`failed: ${summary}; the platform asked to wait ${Math.round(wait / 1000)} s, beyond what a job waits (the channel's plan waits instead)`);
          throw new UnrecoverableError(summary);
        }
        // Waiting for a rate limit does not consume an attempt: the job is put back, not failed.
        await job.updateData({ ...job.data, rateLimitDeferrals: deferrals });
        await log(`${outcome.code === "RATE_LIMITED" ? "rate limited" : "channel busy"}: waiting ${Math.round(wait / 1000)} s (deferral ${deferrals})`);
        const until = Date.now() + wait;
        await job.moveToDelayed(until, token);
        await deps.queue.tenantJobs.track(tenantId, [{ id: job.id!, dueAt: until }]).catch(() => {});
        throw new DelayedError();
      }
    }
  };
}

/** How many channels a sweep reads and queues at a time, so a large tenant never sits in memory at once. */
const SWEEP_PAGE = 2000;

/** Processes one sweep: find the tenant's channels expiring within its window, queue a refresh of each. */
export function createSweepProcessor(deps: { store: Store; queue: RefreshQueue; logger: Logger }) {
  return async (job: SweepJob): Promise<{ found: number; queued: number; windowMinutes: number }> => {
    const { tenantId } = job.data;
    const schedule = await deps.store.schedules.get(tenantId);
    if (!schedule) {
      // Cancelled in SQL while its scheduler survived in Redis: finish the cancellation.
      await deps.queue.removeSweep(tenantId);
      await job.log("no schedule for this tenant any more: scheduler removed");
      return { found: 0, queued: 0, windowMinutes: 0 };
    }
    const until = new Date(Date.now() + schedule.windowMinutes * 60_000);
    let after: { expiresAt: Date; id: string } | null = null;
    let found = 0;
    let queued = 0;
    // One page's jobs are queued while the next page is read and built: Redis runs one page's scripts while this
    // process prepares the next, instead of each waiting for the other.
    let queuing: Promise<number> | undefined;
    for (;;) {
      const page = await deps.store.expiry.needingRefreshPage(tenantId, until, after, SWEEP_PAGE);
      if (page.length === 0) break;
      found += page.length;
      const previous = queuing;
      queuing = deps.queue.enqueueMany(tenantId, page, "sweep");
      queuing.catch(() => {}); // awaited below; a failure must not count as unhandled meanwhile
      if (previous) queued += await previous;
      const last = page[page.length - 1]!;
      after = { expiresAt: last.expiresAt, id: last.id };
      if (page.length < SWEEP_PAGE) break;
    }
    if (queuing) queued += await queuing;
    await job.log(`found ${found} channel(s) expiring within ${schedule.windowMinutes} min; queued ${queued} refresh(es)`);
    deps.logger.info({ tenantId, found, windowMinutes: schedule.windowMinutes }, "sweep done");
    return { found, queued, windowMinutes: schedule.windowMinutes };
  };
}
