import { z } from "zod";
import { failure } from "../errors";
import type { Logger } from "../logger";
import { defineOperation } from "../operation";
import type { Store } from "../store";
import { idSchema } from "../validation";
import type { RefreshQueue } from "./queue";
import { sweepWindowMinutes } from "./settings";

/** At most 30 days ahead. */
export const MAX_DELAY_MINUTES = 43_200;
/** At most once a week, at least once a minute. */
export const MAX_INTERVAL_MINUTES = 10_080;

const whole = (max: number, min = 0) =>
  z.number({ error: "must be a number" }).int("must be a whole number").min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

export const scheduleChannelTokenRefreshInput = z.strictObject({
  channelId: idSchema,
  tenantId: idSchema,
  delayMinutes: whole(MAX_DELAY_MINUTES),
});
export const scheduleRecurringTokenRefreshInput = z.strictObject({
  tenantId: idSchema,
  intervalMinutes: whole(MAX_INTERVAL_MINUTES, 1),
});
export const tenantOnlyInput = z.strictObject({ tenantId: idSchema });

/** The specification's queue operations: delayed and recurring refresh, and each tenant's job figures. */
export function createQueueOperations(deps: { store: Store; queue: RefreshQueue; logger: Logger }) {
  const { store, queue, logger } = deps;
  const noTenant = () => failure("NOT_FOUND", "No tenant with this id.");

  return {
    /** Queues one refresh of a channel after a delay; a pending refresh of the same channel absorbs it. */
    scheduleChannelTokenRefresh: defineOperation(
      "scheduleChannelTokenRefresh",
      scheduleChannelTokenRefreshInput,
      logger,
      async (input) => {
        if (!(await store.channels.find(input.tenantId, input.channelId))) {
          return failure("NOT_FOUND", "No channel with this id in this tenant.");
        }
        const { jobId, scheduledFor } = await queue.enqueueRefresh(input.tenantId, input.channelId, {
          delayMs: input.delayMinutes * 60_000,
          trigger: "scheduled",
        });
        return { success: true as const, jobId, scheduledFor: scheduledFor.toISOString() };
      },
    ),

    /** Sets the tenant's recurring sweep (replacing any previous one); the first sweep runs now. */
    scheduleRecurringTokenRefresh: defineOperation(
      "scheduleRecurringTokenRefresh",
      scheduleRecurringTokenRefreshInput,
      logger,
      async (input) => {
        if (!(await store.tenants.exists(input.tenantId))) return noTenant();
        const windowMinutes = sweepWindowMinutes(input.intervalMinutes, queue.settings);
        // SQL first: it is the truth that workers re-create the scheduler from if Redis loses it.
        await store.schedules.upsert(input.tenantId, input.intervalMinutes, windowMinutes);
        const { jobId, nextRunAt } = await queue.upsertSweep(input.tenantId, input.intervalMinutes);
        return {
          success: true as const,
          jobId,
          intervalMinutes: input.intervalMinutes,
          windowMinutes,
          nextRunAt: nextRunAt.toISOString(),
        };
      },
    ),

    /** Stops the tenant's recurring sweep; `cancelled` is false when there was none. */
    cancelRecurringTokenRefresh: defineOperation("cancelRecurringTokenRefresh", tenantOnlyInput, logger, async (input) => {
      if (!(await store.tenants.exists(input.tenantId))) return noTenant();
      const inSql = await store.schedules.remove(input.tenantId);
      const inRedis = await queue.removeSweep(input.tenantId);
      return { success: true as const, cancelled: inSql || inRedis };
    }),

    /** The tenant's recurring sweep as SQL records it, with its next run from the queue; `schedule` is null when there is none. */
    getRecurringTokenRefresh: defineOperation("getRecurringTokenRefresh", tenantOnlyInput, logger, async (input) => {
      if (!(await store.tenants.exists(input.tenantId))) return noTenant();
      const row = await store.schedules.get(input.tenantId);
      if (!row) return { success: true as const, schedule: null };
      const nextRunAt = await queue.sweepNextRun(input.tenantId);
      return {
        success: true as const,
        schedule: {
          intervalMinutes: row.intervalMinutes,
          windowMinutes: row.windowMinutes,
          // null while no worker has re-created a sweep that Redis lost.
          nextRunAt: nextRunAt?.toISOString() ?? null,
          updatedAt: row.updatedAt.toISOString(),
        },
      };
    }),

    /** This tenant's refresh jobs by state: counted from its own jobs only, never by scanning the queue. */
    getTokenRefreshJobsStatus: defineOperation("getTokenRefreshJobsStatus", tenantOnlyInput, logger, async (input) => {
      if (!(await store.tenants.exists(input.tenantId))) return noTenant();
      return { success: true as const, ...(await queue.tenantJobs.status(input.tenantId)) };
    }),
  };
}
