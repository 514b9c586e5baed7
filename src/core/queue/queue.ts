import { Queue, type Job, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { RefreshTrigger } from "../refresh";
import type { Channel, Platform } from "../types";
import { expiryJobId, REFRESH_QUEUE, redisNames, refreshDedupId, SWEEP_QUEUE, sweepSchedulerId, type RedisNames } from "./names";
import { expiryRefreshAt, type QueueSettings } from "./settings";
import { TenantJobs } from "./tenant-jobs";

/** What a refresh job carries: ids only, never a token. */
export interface RefreshJobData {
  tenantId: string;
  channelId: string;
  trigger: RefreshTrigger;
  /** Refresh only while the channel still expires by then (ISO); a later expiry means someone refreshed it. */
  ifExpiresBy?: string;
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
    await this.tenantJobs.track(tenantId, [job.id!]);
    // Absorbed by the pending job: it runs when it was due, or now at our time if we moved it earlier.
    const absorbed = pendingAt !== undefined && job.id === pendingId && !earlier;
    return { jobId: job.id!, scheduledFor: new Date(absorbed ? pendingAt : job.timestamp + options.delayMs) };
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
    await this.tenantJobs.track(tenantId, jobs.map((job) => job.id!));
    return jobs.length;
  }

  /**
   * Queues the channel's next refresh shortly before its token expires, replacing the one queued for its previous
   * expiry. One job per channel and expiry: queuing the same expiry twice is a no-op.
   */
  async scheduleExpiryRefresh(channel: Pick<Channel, "tenantId" | "id" | "type" | "expiresAt" | "status">, previousExpiresAt?: Date | null) {
    // Two different job ids: both are sent at once rather than one after the other's answer.
    await Promise.all([
      previousExpiresAt && previousExpiresAt.getTime() !== channel.expiresAt?.getTime()
        ? this.removeExpiryRefresh(channel.tenantId, channel.id, previousExpiresAt)
        : undefined,
      channel.expiresAt && channel.status === "active"
        ? this.addExpiryJobs([{ tenantId: channel.tenantId, id: channel.id, type: channel.type, expiresAt: channel.expiresAt }])
        : undefined,
    ]);
  }

  /** Adds expiry-driven jobs in bulk (also how they are rebuilt after Redis lost its data). */
  async addExpiryJobs(channels: Array<{ tenantId: string; id: string; type: string; expiresAt: Date }>): Promise<void> {
    if (channels.length === 0) return;
    const now = new Date();
    const jobs = await this.refresh.addBulk(
      channels.map((channel) => ({
        name: "refresh",
        data: {
          tenantId: channel.tenantId,
          channelId: channel.id,
          trigger: "expiry" as const,
          ifExpiresBy: channel.expiresAt.toISOString(),
        },
        opts: {
          jobId: expiryJobId(channel.tenantId, channel.id, channel.expiresAt),
          delay: expiryRefreshAt(channel.type as Platform, channel.expiresAt, now, this.settings).getTime() - now.getTime(),
        },
      })),
    );
    const byTenant = new Map<string, string[]>();
    for (const job of jobs) {
      const list = byTenant.get(job.data.tenantId) ?? [];
      list.push(job.id!);
      byTenant.set(job.data.tenantId, list);
    }
    await Promise.all([...byTenant].map(([tenantId, ids]) => this.tenantJobs.track(tenantId, ids)));
  }

  /** Removes the channel's expiry-driven job for that expiry, and its pending on-demand refresh. */
  async removeChannelJobs(tenantId: string, channelId: string, expiresAt: Date | null): Promise<void> {
    if (expiresAt) await this.removeExpiryRefresh(tenantId, channelId, expiresAt);
    const pendingId = await this.refresh.getDeduplicationJobId(refreshDedupId(tenantId, channelId));
    if (pendingId) await this.removeJob(tenantId, pendingId);
  }

  private async removeExpiryRefresh(tenantId: string, channelId: string, expiresAt: Date): Promise<void> {
    await this.removeJob(tenantId, expiryJobId(tenantId, channelId, expiresAt));
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
