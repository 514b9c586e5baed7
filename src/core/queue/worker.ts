import { Worker } from "bullmq";
import { Redis } from "ioredis";
import type { Logger } from "../logger";
import type { Metrics } from "../metrics";
import { SAVE_RETRY_BUDGET_MS, type ChannelRefresher } from "../refresh";
import type { Store } from "../store";
import { REFRESH_QUEUE, SWEEP_QUEUE, sweepSchedulerId } from "./names";
import { createRefreshProcessor, createSweepProcessor } from "./processor";
import type { RefreshJobData, RefreshQueue, SweepJobData } from "./queue";
import type { PlanScheduler } from "./scheduler";

export interface WorkerOptions {
  /** Refresh jobs processed at once by this process. @defaultValue 3 */
  concurrency: number;
  /** How long a job stays locked by its worker; a worker that dies loses its jobs to others after it. @defaultValue 30000 */
  lockDurationMs: number;
  /** Longest wait for active jobs at shutdown before they are handed back. @defaultValue 25000 */
  shutdownTimeoutMs: number;
  /** How often the worker checks that Redis still holds the schedules (and rebuilds what it lost). @defaultValue 30000 */
  reconcileIntervalMs: number;
}

export const DEFAULT_WORKER_OPTIONS: WorkerOptions = {
  concurrency: 3,
  lockDurationMs: 30_000,
  shutdownTimeoutMs: 25_000,
  reconcileIntervalMs: 30_000,
};

// Per-tenant job bookkeeping is checked against BullMQ once an entry is this far past due; only entries whose job
// finished or is gone are dropped (a job still queued, however long the backlog, stays).
const PRUNE_AFTER_MS = 10 * 60_000;
// What a refresh needs once its platform call has answered: the save with its retries, and the stash if that fails.
const SAVE_ALLOWANCE_MS = SAVE_RETRY_BUDGET_MS + 1000;

/**
 * Throws when a stopping worker could not wait for a refresh it has in flight: the platform call (up to its deadline)
 * and the save of its answer must fit in the shutdown bound, or the process outlives its bound (and a supervisor kills
 * it mid-save) — or it closes the connections under a rotated token that is still arriving.
 */
export function checkShutdownBound(shutdownTimeoutMs: number, platformTimeoutMs: number): void {
  const needed = platformTimeoutMs + SAVE_ALLOWANCE_MS;
  if (shutdownTimeoutMs >= needed) return;
  throw new Error(
    `REFRESCA_SHUTDOWN_TIMEOUT_MS (shutdownTimeoutMs) is ${shutdownTimeoutMs} ms, too short for a refresh in flight at shutdown: ` +
      `its platform call may take REFRESCA_PLATFORM_TIMEOUT_MS (platformTimeoutMs) = ${platformTimeoutMs} ms and saving the answer ` +
      `up to ${SAVE_ALLOWANCE_MS} ms more. Set REFRESCA_SHUTDOWN_TIMEOUT_MS to at least ${needed}, or lower REFRESCA_PLATFORM_TIMEOUT_MS.`,
  );
}

/**
 * A process's share of the work: refresh and sweep jobs from BullMQ, the scheduler that queues the refreshes the plan
 * in SQL says are due soon, and the healing loop that re-creates from SQL the sweeps Redis lost. Any number of these
 * run against one Redis and PostgreSQL.
 */
export class RefreshWorker {
  private refreshWorker?: Worker<RefreshJobData>;
  private sweepWorker?: Worker<SweepJobData>;
  private connections: Redis[] = [];
  private timer?: NodeJS.Timeout;
  private schedulerTimer?: NodeJS.Timeout;
  private scheduling?: Promise<void>;
  private reconciling?: Promise<void>;
  private closing?: Promise<void>;

  constructor(
    private readonly deps: {
      redisUrl: string;
      store: Store;
      queue: RefreshQueue;
      refresher: ChannelRefresher;
      logger: Logger;
      metrics?: Metrics;
      /** Queues the refreshes the plan says are due soon (every worker runs it; see PlanScheduler). */
      scheduler: PlanScheduler;
      /** The deadline of one platform call: the shutdown bound must leave room for it (checkShutdownBound). */
      platformTimeoutMs?: number;
    },
    private readonly options: WorkerOptions = DEFAULT_WORKER_OPTIONS,
  ) {
    if (deps.platformTimeoutMs !== undefined) checkShutdownBound(options.shutdownTimeoutMs, deps.platformTimeoutMs);
  }

  private connection(): Redis {
    // Workers block on Redis and must wait out an outage rather than fail their commands: no retry limit.
    const connection = new Redis(this.deps.redisUrl, { maxRetriesPerRequest: null });
    connection.on("error", (error) => this.deps.logger.debug({ err: error.message }, "worker redis connection error"));
    this.connections.push(connection);
    return connection;
  }

  async start(): Promise<void> {
    const { queue, logger, metrics } = this.deps;
    const prefix = queue.names.bullPrefix;
    // BullMQ looks for stalled jobs every stalledInterval (30 s unless told), whatever the lock duration: tie the two,
    // so that a dead worker's jobs go to others about one lock duration after it died, as lockDurationMs promises.
    const locking = { lockDuration: this.options.lockDurationMs, stalledInterval: this.options.lockDurationMs };
    this.refreshWorker = new Worker<RefreshJobData>(
      REFRESH_QUEUE,
      createRefreshProcessor({ refresher: this.deps.refresher, queue, logger }),
      { connection: this.connection(), prefix, concurrency: this.options.concurrency, ...locking },
    );
    this.sweepWorker = new Worker<SweepJobData>(
      SWEEP_QUEUE,
      createSweepProcessor({ store: this.deps.store, queue, logger }),
      { connection: this.connection(), prefix, concurrency: 1, ...locking },
    );

    this.refreshWorker.on("completed", (job) => {
      metrics?.jobs.inc({ queue: REFRESH_QUEUE, result: "completed" });
      logger.debug({ jobId: job.id, tenantId: job.data.tenantId, channelId: job.data.channelId }, "refresh job completed");
      queue.tenantJobs.finished(job.data.tenantId, job.id!, "completed").catch(() => {});
    });
    this.refreshWorker.on("failed", (job, error) => {
      if (!job) return;
      const final = error.name === "UnrecoverableError" || job.attemptsMade >= (job.opts.attempts ?? 1);
      logger.warn(
        { jobId: job.id, tenantId: job.data.tenantId, channelId: job.data.channelId, attempt: job.attemptsMade, final, reason: error.message },
        final ? "refresh job failed" : "refresh attempt failed; will retry",
      );
      if (!final) {
        // BullMQ put it back with its backoff delay (job.delay): it is due again then.
        queue.tenantJobs.track(job.data.tenantId, [{ id: job.id!, dueAt: Date.now() + (job.delay ?? 0) }]).catch(() => {});
        return;
      }
      metrics?.jobs.inc({ queue: REFRESH_QUEUE, result: "failed" });
      queue.tenantJobs.finished(job.data.tenantId, job.id!, "failed").catch(() => {});
    });
    this.sweepWorker.on("failed", (job, error) => logger.warn({ jobId: job?.id, reason: error.message }, "sweep failed"));
    for (const worker of [this.refreshWorker, this.sweepWorker]) {
      worker.on("error", (error) => logger.warn({ err: error.message }, "worker error"));
    }

    await this.reconcile();
    this.timer = setInterval(() => void this.reconcile(), this.options.reconcileIntervalMs);
    this.timer.unref();
    await this.schedule();
    this.schedulerTimer = setInterval(() => void this.schedule(), queue.settings.schedulerIntervalMs);
    this.schedulerTimer.unref();
    logger.info({ concurrency: this.options.concurrency }, "worker started");
  }

  /** One scheduler tick (never two at once in this worker): queue what the plan says is due soon. */
  schedule(): Promise<void> {
    this.scheduling ??= this.deps.scheduler
      .tick()
      .then(() => undefined)
      .catch((error) => this.deps.logger.warn({ err: (error as Error).message }, "could not queue the refreshes due soon; will try again"))
      .finally(() => (this.scheduling = undefined));
    return this.scheduling;
  }

  /**
   * Heals Redis from SQL: re-creates missing tenant sweeps, drops sweeps whose schedule was cancelled, and prunes the
   * per-tenant job bookkeeping of jobs that finished unnoticed. Refreshes need no healing: their plan lives in SQL, and a
   * claim whose job Redis lost comes due again after its lease. Idempotent.
   */
  reconcile(): Promise<void> {
    this.reconciling ??= this.reconcileOnce()
      .catch((error) => this.deps.logger.warn({ err: (error as Error).message }, "reconcile failed; will try again"))
      .finally(() => (this.reconciling = undefined));
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    const { queue, store, logger } = this.deps;
    const schedules = await store.schedules.all();
    const known = await queue.sweepIds();
    for (const schedule of schedules) {
      if (!known.has(sweepSchedulerId(schedule.tenantId))) {
        await queue.upsertSweep(schedule.tenantId, schedule.intervalMinutes);
        logger.info({ tenantId: schedule.tenantId }, "re-created a recurring sweep from SQL");
      }
    }
    const wanted = new Set(schedules.map((schedule) => sweepSchedulerId(schedule.tenantId)));
    for (const id of known) if (!wanted.has(id)) await queue.sweep.removeJobScheduler(id);
    const pruned = await queue.tenantJobs.prune(PRUNE_AFTER_MS);
    if (pruned > 0) logger.info({ jobs: pruned }, "dropped the bookkeeping of jobs that finished unnoticed");
  }

  /** Stops taking jobs, lets active ones finish within the bound, hands back the rest, closes connections. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      if (this.schedulerTimer) clearInterval(this.schedulerTimer);
      const workers = [this.refreshWorker, this.sweepWorker].filter((w): w is Worker => w !== undefined);
      // Pausing stops taking jobs and waits for the active ones. Not close(): once closing, BullMQ answers a later
      // close(true) with the same graceful close, so the bound could never force anything.
      const graceful = Promise.all(workers.map((worker) => worker.pause()));
      graceful.catch(() => {}); // a forced close below may end the wait with an error
      const bound = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), this.options.shutdownTimeoutMs).unref());
      const timedOut = (await Promise.race([graceful, bound])) === "timeout";
      if (timedOut) {
        this.deps.logger.warn("active jobs did not finish in time: handing them back to the queue");
      }
      // Forced close leaves the active jobs' locks to expire; another worker picks the jobs up as stalled.
      await Promise.all(workers.map((worker) => worker.close(timedOut)));
      // A handed-back job may still be inside its platform call: a rotated token arriving after the connections closed
      // would be neither saved nor stashed. Wait for it (its deadline and its save bound the wait).
      if (this.deps.refresher.running > 0) {
        this.deps.logger.warn({ refreshes: this.deps.refresher.running }, "waiting for refreshes still in flight to save their answers");
        await this.deps.refresher.settle();
      }
      await this.reconciling;
      await this.scheduling;
      for (const connection of this.connections) connection.disconnect();
      this.deps.logger.info("worker stopped");
    })();
    return this.closing;
  }
}
