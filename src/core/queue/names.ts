/** Names of the queue's jobs and schedulers (Redis keys: ../redis-names.ts). */
export { redisNames, type RedisNames } from "../redis-names";

/** BullMQ job ids may not contain ":"; tenant and channel ids may. Percent-encoding keeps ids unique and readable. */
const encode = (id: string) => encodeURIComponent(id).replaceAll(".", "%2E");

export const REFRESH_QUEUE = "refresh";
export const SWEEP_QUEUE = "sweep";

/** Collapses duplicate on-demand refreshes of one channel while one is pending. */
export const refreshDedupId = (tenantId: string, channelId: string) => `refresh~${encode(tenantId)}~${encode(channelId)}`;

/** The job scheduler that runs a tenant's recurring sweep. */
export const sweepSchedulerId = (tenantId: string) => `sweep~${encode(tenantId)}`;
