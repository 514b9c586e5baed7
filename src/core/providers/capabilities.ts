/**
 * What the rest of Refresca needs to know about a platform, kept in the platform's own folder so that nothing outside
 * `src/core/providers/` names a platform.
 */
export interface PlatformCapabilities {
  /** The channel type, e.g. "tiktok". */
  readonly id: string;
  /** The name people read in messages and on the dashboard. */
  readonly displayName: string;
  /**
   * Whether the refresh token is single-use: each refresh answers a new one and the one sent stops working, so a crash
   * after the answer loses the channel. "detect": store a refresh token whenever the answer carries one.
   */
  readonly rotatesRefreshToken: boolean | "detect";
  /** Whether a refresh may succeed without extending the token (Meta past a token's first 60 days): flagged NOT_EXTENDED. */
  readonly mayNotExtend: boolean;
  /** What a refresh presents: Meta's exchange takes the long-lived access token itself; OAuth 2.0 a refresh token. */
  readonly refreshesWith: "accessToken" | "refreshToken";
  /** How long before expiry a refresh is planned (at most a quarter of the time left). */
  readonly expiryLeadMs: number;
  /** The 24-hour rule: the platform refuses to refresh a token younger than this. */
  readonly minTokenAgeMs?: number;
  /** The platform app refreshes go through; platforms sharing an app share its throttles. */
  readonly app: {
    readonly id: string;
    /** The environment variables the entry points read the app credentials from. */
    readonly env: readonly string[];
    /** false: refreshing needs no app credentials (Instagram Login). */
    readonly neededToRefresh: boolean;
  };
}

export const MINUTE_MS = 60_000;
export const DAY_MS = 24 * 60 * MINUTE_MS;
