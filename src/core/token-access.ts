import { z } from "zod";
import type { TokenReadAudit } from "./audit/token-read-audit";
import type { KeyRing } from "./crypto";
import { ERROR_MESSAGES, failure, type ErrorCode, type Failure } from "./errors";
import type { Logger } from "./logger";
import { defineOperation, failureFor } from "./operation";
import type { ChannelRefresher, RefreshOutcome } from "./refresh";
import type { ChannelTokenRow, Store } from "./store";
import type { Platform } from "./types";
import { idSchema } from "./validation";

/** How long the token handed out must still live when none is asked for. */
export const DEFAULT_MIN_VALIDITY_MINUTES = 5;

export const getAccessTokenInput = z.strictObject({
  tenantId: idSchema,
  channelId: idSchema,
  minValidityMinutes: z
    .number({ error: "must be a number" })
    .int("must be a whole number")
    .min(0, "must not be negative")
    .max(1440, "must be at most 1440 (one day)")
    .default(DEFAULT_MIN_VALIDITY_MINUTES),
});

/** Who is reading, for the audit. Not part of the validated input: only trusted code (the REST layer) sets it. */
export interface TokenReader {
  /** The REST API passes the API key's id. @defaultValue "library" */
  reader?: string;
}

/** The live token of a channel: the one answer of Refresca that carries a token. */
export interface AccessTokenAnswer {
  success: true;
  channelId: string;
  channelType: Platform;
  accessToken: string;
  /** ISO-8601; null: the token never expires. */
  expiresAt: string | null;
  /** The token was renewed while this read was served. */
  refreshed: boolean;
  /** The channel's meta merged with what its platform said at the last refresh (TikTok open_id, scope): non-secret. */
  meta: Record<string, unknown>;
  /** The token works, but something needs attention (a refresh that failed, a channel to reconnect soon). */
  warning?: { code: ErrorCode; error: string };
}

export interface TokenAccessDependencies {
  store: Store;
  keyRing: KeyRing;
  refresher: ChannelRefresher;
  audit: TokenReadAudit;
  logger: Logger;
  now?: () => number;
}

const LIBRARY_READER = "library";
const MAX_READER_LENGTH = 128;

/** `getAccessToken`: the channel's token, refreshed first (through the single flight) when it expires too soon. */
export function createTokenAccess(deps: TokenAccessDependencies) {
  const { store, keyRing, refresher, audit, logger } = deps;
  const now = deps.now ?? Date.now;

  /** The answer carrying the row's token; the read is counted for the audit (in memory: nothing awaited). */
  function handOut(row: ChannelTokenRow, reader: string, refreshed: boolean, warning?: AccessTokenAnswer["warning"]): AccessTokenAnswer {
    const { accessToken } = keyRing.decrypt(row.credentials, { tenantId: row.tenantId, channelId: row.id });
    audit.record({ tenantId: row.tenantId, channelId: row.id, reader, refreshed });
    return {
      success: true,
      channelId: row.id,
      channelType: row.type as Platform,
      accessToken,
      expiresAt: row.expiresAt?.toISOString() ?? null,
      refreshed,
      // Platform facts win over the product's meta: they are what the platform said at the last refresh.
      meta: { ...row.meta, ...row.platformDetails },
      ...(warning && { warning }),
    };
  }

  const unexpired = (row: ChannelTokenRow) => row.expiresAt === null || row.expiresAt.getTime() > now();

  /**
   * A flagged channel answers NEEDS_REAUTH, except one flagged because Meta would not extend its token: Meta keeps
   * that token alive until its deadline, and the product must keep working until the person reconnects.
   */
  function flagged(row: ChannelTokenRow, reader: string, refreshed = false): AccessTokenAnswer | Failure {
    if (row.status === "needs_reauth" && row.lastErrorCode === "NOT_EXTENDED" && unexpired(row)) {
      return handOut(row, reader, refreshed, { code: "NOT_EXTENDED", error: row.lastError ?? ERROR_MESSAGES.NOT_EXTENDED });
    }
    return failure("NEEDS_REAUTH", row.lastError ?? ERROR_MESSAGES.NEEDS_REAUTH);
  }

  /** After a refresh attempt: the row as it is now decides, with the attempt's failure as the warning or the answer. */
  function afterRefresh(first: ChannelTokenRow, current: ChannelTokenRow | null, outcome: RefreshOutcome, reader: string) {
    if (!current) return failure("NOT_FOUND", "The channel was removed.");
    const refreshed = current.credentials !== first.credentials;
    // SUPERSEDED: a reconnect wrote newer credentials meanwhile, which are what to hand out.
    if (outcome.success || outcome.code === "SUPERSEDED") return handOut(current, reader, refreshed);
    const problem = failure(outcome.code, outcome.error, outcome.retryAfterMs ? { retryAfterSeconds: Math.ceil(outcome.retryAfterMs / 1000) } : {});
    // Flagged by this attempt (or meanwhile): INVALID_CREDENTIALS, ROTATION_LOST are the answer; NOT_EXTENDED
    // saved a token that still works. Rejected app credentials leave the channel active, so they fall through.
    if (current.status !== "active") {
      return current.lastErrorCode === "NOT_EXTENDED" ? flagged(current, reader, refreshed) : problem;
    }
    if (!unexpired(current)) return problem;
    return handOut(current, reader, refreshed, { code: outcome.code, error: outcome.error });
  }

  return {
    /**
     * The channel's access token, living at least `minValidityMinutes` more when the platform allows it: one read and
     * one decryption when it does; otherwise a refresh first, shared with every concurrent caller in any process.
     */
    getAccessToken: defineOperation(
      "getAccessToken",
      getAccessTokenInput,
      logger,
      async (input, access?: TokenReader): Promise<AccessTokenAnswer | Failure> => {
        const reader = access?.reader ?? LIBRARY_READER;
        if (typeof reader !== "string" || reader.length === 0 || reader.length > MAX_READER_LENGTH) {
          return failure("INVALID_INPUT", `Invalid input: reader: must be 1–${MAX_READER_LENGTH} characters.`);
        }
        const row = await store.channelTokens.find(input.tenantId, input.channelId);
        if (!row) return failure("NOT_FOUND", "No channel with this id in this tenant.");
        if (row.status !== "active") return flagged(row, reader);
        const margin = now() + input.minValidityMinutes * 60_000;
        if (row.expiresAt === null || row.expiresAt.getTime() > margin) return handOut(row, reader, false);

        let outcome: RefreshOutcome;
        try {
          outcome = await refresher.refresh({
            tenantId: row.tenantId,
            channelId: row.id,
            trigger: "read",
            ifExpiresBy: new Date(margin),
          });
        } catch (error) {
          // Redis or PostgreSQL went away mid-refresh: the token read a moment ago may still work, so it decides.
          const { code, error: sentence } = failureFor(error, "getAccessToken", logger);
          return afterRefresh(row, row, { success: false, channelId: row.id, code, error: sentence }, reader);
        }
        return afterRefresh(row, await store.channelTokens.find(row.tenantId, row.id), outcome, reader);
      },
    ),
  };
}
