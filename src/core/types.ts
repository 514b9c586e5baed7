import { BUILT_IN_PLATFORM_IDS } from "./providers/built-ins";

/**
 * The built-in platforms' channel types, as registered in src/core/providers/built-ins.ts (each has its folder in
 * src/core/providers/): instagram, facebook, whatsapp, tiktok, threads.
 */
export const PLATFORMS = BUILT_IN_PLATFORM_IDS;
export type BuiltInPlatform = (typeof PLATFORMS)[number];
/** A channel type: a built-in platform, or the id of an OAuth 2.0 provider configured by data. */
export type Platform = BuiltInPlatform | (string & {});

/** What one platform refresh returned (internal: never sent to a browser). Shape fixed by the specification. */
export interface RefreshResult {
  success: boolean;
  accessToken?: string;
  refreshToken?: string;
  /** ISO-8601 */
  expiresAt?: string;
  error?: string;
  details?: Record<string, any>;
}

/** A channel whose token is close to expiry. Shape fixed by the specification. */
export interface TokenExpirationInfo {
  channelId: string;
  channelType: string;
  displayName: string;
  localName: string;
  /** ISO-8601 */
  expiresAt: string;
  /** Negative once expired. */
  minutesUntilExpiration: number;
  hasRefreshToken: boolean;
}

/** The secret part of a channel, stored only inside the encrypted envelope. */
export interface Credentials {
  accessToken: string;
  refreshToken?: string;
}

/** A platform's validated answer to a refresh, mapped to one domain type. */
export interface TokenSet {
  accessToken: string;
  /** null: the platform says this token never expires. */
  expiresAt: Date | null;
  /** Present when the platform rotated (or re-issued) the refresh token; absent: keep the current one. */
  refreshToken?: string;
  /** When the refresh token itself stops working, when the platform says so. */
  refreshTokenExpiresAt?: Date | null;
  /** Non-secret facts worth keeping (scope, open_id, token_type). */
  details?: Record<string, string>;
}

export type ChannelStatus = "active" | "needs_reauth" | "disabled";

/** A channel as the core sees it, credentials decrypted only where a refresh needs them. */
export interface Channel {
  id: string;
  tenantId: string;
  type: Platform;
  displayName: string;
  localName: string;
  status: ChannelStatus;
  meta: Record<string, unknown>;
  /** Non-secret facts from the platform's last refresh answer (TikTok open_id and scope, token_type). */
  platformDetails: Record<string, string>;
  expiresAt: Date | null;
  refreshTokenExpiresAt: Date | null;
  hasRefreshToken: boolean;
  version: number;
  lastRefreshedAt: Date | null;
  lastAttemptAt: Date | null;
  lastOutcome: string | null;
  lastErrorCode: string | null;
  failureCount: number;
  /** Since when every refresh has failed; null while the last one succeeded. */
  failingSince: Date | null;
  /** When the next refresh is planned; null: none (needs reconnecting, never expires, or nothing to refresh with). */
  nextRefreshAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}
