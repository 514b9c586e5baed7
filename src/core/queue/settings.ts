import type { Platform } from "../types";

/** How jobs are queued and retried; every field has a documented environment variable in the CLI. */
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
  /** How long before expiry the expiry-driven refresh runs, per platform (at most a quarter of the token's life). */
  expiryLeadMs: Record<Platform, number>;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  attempts: 3,
  backoffMs: 2000,
  backoffJitter: 0.5,
  keepCompleted: 10,
  keepFailed: 50,
  maxRateLimitWaitMs: 15 * MINUTE,
  maxRateLimitDeferrals: 10,
  sweepMarginMinutes: 15,
  // TikTok's access tokens live hours: refresh shortly before. Meta's live 60 days and may not be extendable:
  // refreshing a week early leaves a week to reconnect a channel flagged NOT_EXTENDED.
  expiryLeadMs: { tiktok: 10 * MINUTE, facebook: 7 * DAY, instagram: 7 * DAY, whatsapp: 7 * DAY },
};

/** The window a recurring sweep uses: never shorter than its interval plus a margin, nor than 60 minutes. */
export function sweepWindowMinutes(intervalMinutes: number, settings: QueueSettings): number {
  return Math.max(60, intervalMinutes + settings.sweepMarginMinutes);
}

/** When the expiry-driven refresh of a token should run: a lead before expiry, at most a quarter of its life left. */
export function expiryRefreshAt(platform: Platform, expiresAt: Date, now: Date, settings: QueueSettings): Date {
  const remaining = expiresAt.getTime() - now.getTime();
  const lead = Math.min(settings.expiryLeadMs[platform], Math.max(0, remaining) / 4);
  return new Date(Math.max(now.getTime(), expiresAt.getTime() - lead));
}
