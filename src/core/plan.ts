import type { ErrorCode } from "./errors";
import { expiryRefreshAt, type QueueSettings } from "./queue/settings";

// When a channel is refreshed next. Every write of a refresh's outcome (and every upsert) carries the plan these
// functions compute, in the same statement, so that an active channel whose token expires always has one.

/** What a failed refresh writes besides the failure itself. */
export interface FailurePlan {
  /** The next attempt; null: nothing to do until the channel is reconnected. */
  nextRefreshAt: Date | null;
  /** The platform's "not before" for this channel (Retry-After), when it gave one. */
  notBefore: Date | null;
  /** Set when the platform throttled the whole app: no channel sharing it is called before then. */
  appNotBefore: Date | null;
}

/** The channel as a plan needs it. */
export interface PlannedChannel {
  type: string;
  expiresAt: Date | null;
  hasRefreshToken: boolean;
  /** Failures in a row before this one. */
  failureCount: number;
}

/** The plan of a channel whose token expires at `expiresAt` (created, reconnected or just refreshed). */
export function planFromExpiry(
  channel: Pick<PlannedChannel, "type" | "hasRefreshToken">,
  expiresAt: Date | null,
  now: Date,
  settings: QueueSettings,
): Date | null {
  if (expiresAt === null || !channel.hasRefreshToken) return null;
  return expiryRefreshAt(channel.type, expiresAt, now, settings);
}

/**
 * The plan after a failure classified `code`. `needsReauth`: the channel was flagged. A transient failure backs off
 * exponentially with jitter, capped, and never plans past half the time the token has left, so a token that can be
 * refreshed is tried again before it expires (and after, where the platform still refreshes an expired access token).
 */
export function planAfterFailure(
  channel: PlannedChannel,
  failure: { code: ErrorCode; needsReauth: boolean; retryAfterMs?: number; appWide?: boolean },
  now: Date,
  settings: QueueSettings,
  random: () => number = Math.random,
): FailurePlan {
  const none = { notBefore: null, appNotBefore: null };
  if (failure.needsReauth || failure.code === "NO_REFRESH_TOKEN" || !channel.hasRefreshToken || channel.expiresAt === null) {
    return { nextRefreshAt: null, ...none };
  }
  const at = (ms: number) => new Date(now.getTime() + Math.round(ms));
  const waitAsked = failure.code === "RATE_LIMITED" || (failure.code === "TOO_EARLY" && failure.retryAfterMs !== undefined);
  if (waitAsked) {
    const wait = failure.retryAfterMs ?? settings.defaultRateLimitWaitMs;
    const notBefore = at(wait);
    // Spread the channels the platform let go at the same instant over a tenth of the wait.
    return { nextRefreshAt: at(wait * (1 + random() * 0.1)), notBefore, appNotBefore: failure.appWide ? notBefore : null };
  }
  const nominal =
    failure.code === "TOO_EARLY"
      ? settings.tooEarlyRetryMs
      : Math.min(settings.retryCapMs, settings.retryBaseMs * 2 ** Math.min(30, channel.failureCount));
  let delay = nominal * (1 - settings.backoffJitter * random());
  const left = channel.expiresAt.getTime() - now.getTime();
  if (left > 0) delay = Math.min(delay, Math.max(left / 2, 1000));
  return { nextRefreshAt: at(delay), ...none };
}
