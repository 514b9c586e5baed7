import type { Redis } from "ioredis";
import { ApiRateLimiter, type RateDecision } from "./access/rate-limit";

/**
 * How many platform refreshes one tenant's manual requests (`refreshChannelToken`, `refreshMultipleChannelTokens`) may
 * start: a steady rate and a burst. Platforms meter the app, not the tenant (TikTok: 600 calls a minute by default), so
 * without a bound one tenant's 1,000-channel batches would spend every tenant's quota.
 */
export interface ManualRefreshLimit {
  /** Refreshes a tenant may keep starting per second. @defaultValue 1 */
  perSecond: number;
  /** Refreshes a tenant that was idle may start at once. @defaultValue 100 */
  burst: number;
}

// A tenth of TikTok's default app quota per minute per tenant, and a burst that covers a typical tenant's channels.
export const DEFAULT_MANUAL_REFRESH_LIMIT: ManualRefreshLimit = { perSecond: 1, burst: 100 };

/**
 * Each tenant's budget of manual platform refreshes, in Redis so that every process (web, workers, library users)
 * draws on the same one. Charged only when a refresh is about to call the platform: callers that join a refresh in
 * flight, channels someone just refreshed, and flagged channels cost nothing.
 */
export class TenantRefreshBudget {
  private readonly bucket: ApiRateLimiter;

  constructor(redis: Redis, keyPrefix: string, readonly limit: ManualRefreshLimit = DEFAULT_MANUAL_REFRESH_LIMIT) {
    // The same GCRA bucket as the REST API's per-key limit, under its own keys.
    this.bucket = new ApiRateLimiter(redis, `${keyPrefix}manual-refresh:`, limit);
  }

  /** Takes one platform refresh from the tenant's budget; when there is none, says how long until there is. */
  take(tenantId: string): Promise<RateDecision> {
    return this.bucket.take(tenantId);
  }
}
