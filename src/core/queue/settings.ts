import { BUILT_IN_CAPABILITIES } from "../providers";

/** How refreshes are planned, queued and retried. */
export interface QueueSettings {
  /** Attempts of one refresh job. @defaultValue 3 */
  attempts: number;
  /** First retry delay; doubles each attempt. @defaultValue 2000 */
  backoffMs: number;
  /** Share of each retry delay that is random, so retries of many channels spread out. @defaultValue 0.5 */
  backoffJitter: number;
  /** Completed jobs kept in Redis. @defaultValue 10 */
  keepCompleted: number;
  /** Failed jobs kept in Redis. @defaultValue 50 */
  keepFailed: number;
  /** Longest wait a platform's rate limit may impose on a job before it fails instead. @defaultValue 900000 */
  maxRateLimitWaitMs: number;
  /** Times a job may be put back for a rate limit, without consuming attempts. @defaultValue 10 */
  maxRateLimitDeferrals: number;
  /** Extra minutes a recurring sweep looks ahead beyond its interval. @defaultValue 15 */
  sweepMarginMinutes: number;
  /**
   * How long before expiry a channel's refresh is planned, per channel type (at most a quarter of the time left).
   * @defaultValue each platform's `capabilities.expiryLeadMs`
   */
  expiryLeadMs: Record<string, number>;
  /** How often each worker's scheduler claims the channels due soon and queues their refreshes. @defaultValue 5000 */
  schedulerIntervalMs: number;
  /** How far ahead the scheduler claims: a channel due within this is queued now, delayed until it is due. @defaultValue 120000 */
  claimAheadMs: number;
  /**
   * A claimed channel comes due again this long after its due time, so a refresh whose job was lost (Redis flushed or
   * restored, a job that stalled out) is queued again. Always more than `claimAheadMs`. @defaultValue 300000
   */
  claimLeaseMs: number;
  /** The most channels one claim takes (a tick claims batch after batch until fewer come back). @defaultValue 100 */
  claimBatch: number;
  /** A refresh that reached the platform and then wrote nothing (its process died) is planned again after this. @defaultValue 120000 */
  attemptLeaseMs: number;
  /** Delay after the first transient failure in a row; doubles with each further one, with `backoffJitter`. @defaultValue 5000 */
  retryBaseMs: number;
  /** Longest delay between two attempts after transient failures. @defaultValue 300000 */
  retryCapMs: number;
  /** Delay after TOO_EARLY when the platform said nothing of when. @defaultValue 3600000 */
  tooEarlyRetryMs: number;
  /** How long a channel waits when the platform rate limits it without saying for how long. @defaultValue 60000 */
  defaultRateLimitWaitMs: number;
  /** How far a plan may lie in the past before the health check counts the channel (work waiting in the queue). @defaultValue 900000 */
  planGraceMs: number;
}

const MINUTE = 60_000;
// A channel type without a lead of its own (none today: every provider declares one) is refreshed shortly before
// expiry; the quarter-of-the-time-left bound still holds.
const FALLBACK_EXPIRY_LEAD_MS = 10 * MINUTE;

export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  attempts: 3,
  backoffMs: 2000,
  backoffJitter: 0.5,
  keepCompleted: 10,
  keepFailed: 50,
  maxRateLimitWaitMs: 15 * MINUTE,
  maxRateLimitDeferrals: 10,
  sweepMarginMinutes: 15,
  // Each platform's folder says why its lead is what it is.
  expiryLeadMs: Object.fromEntries(BUILT_IN_CAPABILITIES.map((capabilities) => [capabilities.id, capabilities.expiryLeadMs])),
  schedulerIntervalMs: 5000,
  claimAheadMs: 2 * MINUTE,
  claimLeaseMs: 5 * MINUTE,
  // One claim of 100 due channels takes ~8 ms with 1,000,000 channels in PostgreSQL (docs/BENCHMARKS.md).
  claimBatch: 100,
  attemptLeaseMs: 2 * MINUTE,
  // 5 s doubling: a 40-second outage is over by the 4th retry, about 75 s after the first failure.
  retryBaseMs: 5000,
  retryCapMs: 5 * MINUTE,
  tooEarlyRetryMs: 60 * MINUTE,
  defaultRateLimitWaitMs: MINUTE,
  planGraceMs: 15 * MINUTE,
};

/** The window a recurring sweep uses: never shorter than its interval plus a margin, nor than 60 minutes. */
export function sweepWindowMinutes(intervalMinutes: number, settings: QueueSettings): number {
  return Math.max(60, intervalMinutes + settings.sweepMarginMinutes);
}

/** When the expiry-driven refresh of a token should run: a lead before expiry, at most a quarter of its life left. */
export function expiryRefreshAt(platform: string, expiresAt: Date, now: Date, settings: QueueSettings): Date {
  const remaining = expiresAt.getTime() - now.getTime();
  const lead = Math.min(settings.expiryLeadMs[platform] ?? FALLBACK_EXPIRY_LEAD_MS, Math.max(0, remaining) / 4);
  return new Date(Math.max(now.getTime(), expiresAt.getTime() - lead));
}
