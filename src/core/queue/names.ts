/** Names of everything Refresca keeps in Redis besides BullMQ's own keys. */

/** BullMQ job ids may not contain ":"; tenant and channel ids may. Percent-encoding keeps ids unique and readable. */
const encode = (id: string) => encodeURIComponent(id).replaceAll(".", "%2E");

export const REFRESH_QUEUE = "refresh";
export const SWEEP_QUEUE = "sweep";

export interface RedisNames {
  /** BullMQ's key prefix (Refresca's prefix without its trailing colon). */
  bullPrefix: string;
  /** Live refresh jobs of one tenant (a set of job ids). */
  tenantJobs(tenantId: string): string;
  /** Finished refresh jobs of one tenant, by outcome (a hash: completed, failed). */
  tenantCounts(tenantId: string): string;
  /** Present while Redis still holds what workers put there; its absence means Redis lost its data. */
  sentinel: string;
}

export function redisNames(keyPrefix: string): RedisNames {
  return {
    bullPrefix: keyPrefix.replace(/:$/, ""),
    tenantJobs: (tenantId) => `${keyPrefix}tenant-jobs:${tenantId}`,
    tenantCounts: (tenantId) => `${keyPrefix}tenant-counts:${tenantId}`,
    sentinel: `${keyPrefix}alive`,
  };
}

/** Collapses duplicate on-demand refreshes of one channel while one is pending. */
export const refreshDedupId = (tenantId: string, channelId: string) => `refresh~${encode(tenantId)}~${encode(channelId)}`;

/** The expiry-driven refresh of one channel for one expiry: a new expiry is a new job, the old one is removed. */
export const expiryJobId = (tenantId: string, channelId: string, expiresAt: Date) =>
  `expiry~${encode(tenantId)}~${encode(channelId)}~${expiresAt.getTime()}`;

/** The job scheduler that runs a tenant's recurring sweep. */
export const sweepSchedulerId = (tenantId: string) => `sweep~${encode(tenantId)}`;
