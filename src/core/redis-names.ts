/**
 * Every Redis key Refresca writes besides BullMQ's own, from one prefix: the one place their formats are written, so
 * that code and tests build them the same way. Tenant and channel ids may contain ":", so they are percent-encoded.
 */
export interface RedisNames {
  /** BullMQ's key prefix (Refresca's prefix without its trailing colon). */
  bullPrefix: string;
  /** Unfinished refresh jobs of one tenant (a sorted set: job id scored by when it is due). */
  tenantJobs(tenantId: string): string;
  /** Finished refresh jobs of one tenant, by outcome (a hash: completed, failed). */
  tenantCounts(tenantId: string): string;
  /** The single-flight lock of one channel's refresh (its owner's value). */
  channelLock(tenantId: string, channelId: string): string;
  /** A channel's recovery stash: new tokens a refresh could not save, kept for the next attempt. */
  recoveryStash(tenantId: string, channelId: string): string;
  /** A SCAN pattern matching every recovery stash. */
  recoveryStashes: string;
  /** The REST API rate limit's bucket of one API key. */
  apiRateLimit(keyId: string): string;
  /** The pub/sub channel announcing revoked API keys to every web process. */
  apiKeyRevocations: string;
  /** Failed sign-ins of one address group (hashed) and its lockout. */
  signInFailures(groupHash: string): string;
  signInLock(groupHash: string): string;
}

const ids = (tenantId: string, channelId: string) => `${encodeURIComponent(tenantId)}:${encodeURIComponent(channelId)}`;

export function redisNames(keyPrefix: string): RedisNames {
  return {
    bullPrefix: keyPrefix.replace(/:$/, ""),
    tenantJobs: (tenantId) => `${keyPrefix}tenant-pending:${tenantId}`,
    tenantCounts: (tenantId) => `${keyPrefix}tenant-counts:${tenantId}`,
    channelLock: (tenantId, channelId) => `${keyPrefix}lock:${ids(tenantId, channelId)}`,
    recoveryStash: (tenantId, channelId) => `${keyPrefix}recovery:${ids(tenantId, channelId)}`,
    recoveryStashes: `${keyPrefix}recovery:*`,
    apiRateLimit: (keyId) => `${keyPrefix}ratelimit:${keyId}`,
    apiKeyRevocations: `${keyPrefix}api-keys:revoked`,
    signInFailures: (groupHash) => `${keyPrefix}signin:failures:${groupHash}`,
    signInLock: (groupHash) => `${keyPrefix}signin:lock:${groupHash}`,
  };
}
