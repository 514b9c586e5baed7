import { Queue, type Job, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { RefreshTrigger } from "../refresh";
import type { ClaimedPlan } from "../store";
import { REFRESH_QUEUE, redisNames, refreshDedupId, SWEEP_QUEUE, sweepSchedulerId, type RedisNames } from "./names";
import type { QueueSettings } from "./settings";
import { TenantJobs } from "./tenant-jobs";

/** What a refresh job carries: ids only, never a token. */
export interface RefreshJobData {
  tenantId: string;
  channelId: string;
  trigger: RefreshTrigger;
  /** Refresh only while the channel still expires by then (ISO); a later expiry means someone refreshed it. */
  ifExpiresBy?: string;
  /**
   * A refresh queued for the channel's plan (trigger "expiry"): only while the channel is still at this version. Any
   * outcome or reconnect since wrote a newer plan, which the scheduler queues on its own.
   */
  version?: number;
  /** Times this job was put back because the platform rate limited it. */
  rateLimitDeferrals?: number;
}

export interface SweepJobData {
  tenantId: string;
}

/** The producer side: puts refresh and sweep jobs on BullMQ and keeps each tenant's job bookkeeping. */
export class RefreshQueue {
  readonly names: RedisNames;
  readonly refresh: Queue<RefreshJobData>;
  readonly sweep: Queue<SweepJobData>;
  readonly tenantJobs: TenantJobs;

  constructor(
    readonly connection: Redis,
    keyPrefix: string,
    readonly settings: QueueSettings,
  ) {
    this.names = redisNames(keyPrefix);
    const common = { connection, prefix: this.names.bullPrefix };
    this.refresh = new Queue<RefreshJobData>(REFRESH_QUEUE, {
      ...common,
      defaultJobOptions: {
        attempts: settings.attempts,
        backoff: { type: "exponential", delay: settings.backoffMs, jitter: settings.backoffJitter },
        removeOnComplete: settings.keepCompleted,
        removeOnFail: settings.keepFailed,
      },
    });
    this.sweep = new Queue<SweepJobData>(SWEEP_QUEUE, {
      ...common,
      defaultJobOptions: { removeOnComplete: settings.keepCompleted, removeOnFail: settings.keepFailed },
    });
    this.tenantJobs = new TenantJobs(connection, this.names);
    // The connection's errors are logged where it is made; without a listener BullMQ prints each one raw to stderr.
    for (const queue of [this.refresh, this.sweep]) queue.on("error", () => {});
  }

  /**
   * Queues one refresh of a channel after `delayMs`. A pending refresh of the same channel absorbs it (one job
   * per channel); an earlier request moves the pending one earlier, never later.
   */
  async enqueueRefresh(
    tenantId: string,
    channelId: string,
    options: { delayMs: number; trigger: RefreshTrigger },
  ): Promise<{ jobId: string; scheduledFor: Date }> {
    const dedupId = refreshDedupId(tenantId, channelId);
    const requestedAt = Date.now() + options.delayMs;
    const pendingId = await this.refresh.getDeduplicationJobId(dedupId);
    const pending = pendingId ? await this.refresh.getJob(pendingId) : undefined;
    const pendingAt = pending ? pending.timestamp + (pending.delay ?? 0) : undefined;
    const earlier = pendingAt !== undefined && requestedAt < pendingAt;
    const job = await this.refresh.add(
      "refresh",
      { tenantId, channelId, trigger: options.trigger },
      { delay: options.delayMs, deduplication: { id: dedupId, reschedule: earlier } },
    );
    // Absorbed by the pending job: it runs when it was due, or now at our time if we moved it earlier.
    const absorbed = pendingAt !== undefined && job.id === pendingId && !earlier;
    const scheduledFor = new Date(absorbed ? pendingAt : job.timestamp + options.delayMs);
    await this.tenantJobs.track(tenantId, [{ id: job.id!, dueAt: scheduledFor.getTime() }]);
    return { jobId: job.id!, scheduledFor };
  }

  /** Queues a refresh of each channel now (a sweep's finds), in one round trip; pending ones absorb duplicates. */
  async enqueueMany(
    tenantId: string,
    channels: Array<{ id: string; expiresAt: Date }>,
    trigger: RefreshTrigger,
  ): Promise<number> {
    if (channels.length === 0) return 0;
    const jobs = await this.refresh.addBulk(
      channels.map((channel) => ({
        name: "refresh",
        data: { tenantId, channelId: channel.id, trigger, ifExpiresBy: channel.expiresAt.toISOString() },
        opts: { deduplication: { id: refreshDedupId(tenantId, channel.id), reschedule: true } } satisfies JobsOptions,
      })),
    );
    const now = Date.now();
    await this.tenantJobs.track(tenantId, jobs.map((job) => ({ id: job.id!, dueAt: now })));
    return jobs.length;
  }

  /**
   * Queues the refresh of each channel a scheduler claimed, delayed until it is due. One job per claim, holding the
   * plan's version: a job whose plan was replaced meanwhile finishes without calling the platform. No retries in
   * BullMQ: a failure writes the channel's next plan, which the scheduler queues when it comes due.
   */
  async enqueuePlanned(claims: readonly ClaimedPlan[]): Promise<void> {
    if (claims.length === 0) return;
    const now = Date.now();
    const jobs = await this.refresh.addBulk(
      claims.map((claim) => ({
        name: "refresh",
        data: { tenantId: claim.tenantId, channelId: claim.id, trigger: "expiry" as const, version: claim.version },
        opts: { delay: Math.max(0, claim.runAt.getTime() - now), attempts: 1 },
      })),
    );
    const byTenant = new Map<string, Array<{ id: string; dueAt: number }>>();
    jobs.forEach((job, index) => {
      const list = byTenant.get(job.data.tenantId) ?? [];
      list.push({ id: job.id!, dueAt: Math.max(now, claims[index]!.runAt.getTime()) });
      byTenant.set(job.data.tenantId, list);
    });
    await Promise.all([...byTenant].map(([tenantId, list]) => this.tenantJobs.track(tenantId, list)));
  }

  /** Removes the channel's pending on-demand refresh (a job queued for its plan finds it gone, and ends). */
  async removeChannelJobs(tenantId: string, channelId: string): Promise<void> {
    const pendingId = await this.refresh.getDeduplicationJobId(refreshDedupId(tenantId, channelId));
    if (pendingId) await this.removeJob(tenantId, pendingId);
  }

  private async removeJob(tenantId: string, jobId: string): Promise<void> {
    // A job being processed right now is locked and stays; it finishes on its own.
    const removed = await this.refresh.remove(jobId);
    if (removed) await this.tenantJobs.untrack(tenantId, [jobId]);
  }

  /** Creates or replaces the tenant's recurring sweep; its first run is now. */
  async upsertSweep(tenantId: string, intervalMinutes: number): Promise<{ jobId: string; nextRunAt: Date }> {
    const schedulerId = sweepSchedulerId(tenantId);
    await this.sweep.upsertJobScheduler(schedulerId, { every: intervalMinutes * 60_000 }, { name: "sweep", data: { tenantId } });
    const scheduler = await this.sweep.getJobScheduler(schedulerId);
    return { jobId: schedulerId, nextRunAt: new Date(scheduler?.next ?? Date.now()) };
  }

  /** When the tenant's sweep runs next, or null when Redis holds no sweep for it. */
  async sweepNextRun(tenantId: string): Promise<Date | null> {
    const scheduler = await this.sweep.getJobScheduler(sweepSchedulerId(tenantId));
    return scheduler?.next ? new Date(scheduler.next) : null;
  }

  async removeSweep(tenantId: string): Promise<boolean> {
    return this.sweep.removeJobScheduler(sweepSchedulerId(tenantId));
  }

  /** The ids of the sweeps Redis knows about. */
  async sweepIds(): Promise<Set<string>> {
    const schedulers = await this.sweep.getJobSchedulers(0, -1);
    return new Set(schedulers.map((scheduler) => scheduler.key));
  }

  async close(): Promise<void> {
    await Promise.all([this.refresh.close(), this.sweep.close()]);
  }
}

export type RefreshJob = Job<RefreshJobData>;
export type SweepJob = Job<SweepJobData>;
