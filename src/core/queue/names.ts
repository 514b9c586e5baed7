/** Names of the queue's keys in Redis besides BullMQ's own (the channel lock, the recovery stash and the sign-in throttle build theirs). */

/** BullMQ job ids may not contain ":"; tenant and channel ids may. Percent-encoding keeps ids unique and readable. */
const encode = (id: string) => encodeURIComponent(id).replaceAll(".", "%2E");

export const REFRESH_QUEUE = "refresh";
export const SWEEP_QUEUE = "sweep";

export interface RedisNames {
  /** BullMQ's key prefix (Refresca's prefix without its trailing colon). */
  bullPrefix: string;
  /** Unfinished refresh jobs of one tenant (a sorted set: job id scored by when it is due). */
  tenantJobs(tenantId: string): string;
  /** Finished refresh jobs of one tenant, by outcome (a hash: completed, failed). */
  tenantCounts(tenantId: string): string;
}

export function redisNames(keyPrefix: string): RedisNames {
  return {
    bullPrefix: keyPrefix.replace(/:$/, ""),
    tenantJobs: (tenantId) => `${keyPrefix}tenant-pending:${tenantId}`,
    tenantCounts: (tenantId) => `${keyPrefix}tenant-counts:${tenantId}`,
  };
}

/** Collapses duplicate on-demand refreshes of one channel while one is pending. */
export const refreshDedupId = (tenantId: string, channelId: string) => `refresh~${encode(tenantId)}~${encode(channelId)}`;

/** The job scheduler that runs a tenant's recurring sweep. */
export const sweepSchedulerId = (tenantId: string) => `sweep~${encode(tenantId)}`;
