import type { Logger } from "../logger";
import type { Store } from "../store";
import type { RefreshQueue } from "./queue";

/**
 * Moves the work of the next minutes from the plan in PostgreSQL into BullMQ: claims the channels due within
 * `claimAheadMs` and queues each one's refresh, delayed until it is due. Every worker runs one; the claim is atomic in
 * SQL (SKIP LOCKED), so two never queue the same channel twice, and a claim moves the plan one lease ahead, so a job
 * lost with Redis comes due again. Redis thus holds minutes of work, never a job per channel.
 */
export class PlanScheduler {
  constructor(private readonly deps: { store: Store; queue: RefreshQueue; logger: Logger }) {}

  /** The lease a claim takes: past the claim window, or a claimed channel would be claimed again before its job ran. */
  get leaseMs(): number {
    const { claimLeaseMs, claimAheadMs, schedulerIntervalMs } = this.deps.queue.settings;
    return Math.max(claimLeaseMs, claimAheadMs + schedulerIntervalMs);
  }

  /** Claims and queues everything due within the window, a batch at a time; answers how many refreshes it queued. */
  async tick(): Promise<number> {
    const { store, queue } = this.deps;
    const { claimAheadMs, claimBatch } = queue.settings;
    let queued = 0;
    for (;;) {
      const claims = await store.plans.claimDue(claimAheadMs, this.leaseMs, claimBatch);
      if (claims.length === 0) break;
      try {
        await queue.enqueuePlanned(claims);
      } catch (error) {
        // Redis refused them: give the claims back so the next tick (not the lease) takes them again.
        await store.plans.release(claims).catch(() => {});
        throw error;
      }
      queued += claims.length;
      if (claims.length < claimBatch) break;
    }
    if (queued > 0) this.deps.logger.debug({ queued }, "queued the refreshes due soon");
    return queued;
  }
}
