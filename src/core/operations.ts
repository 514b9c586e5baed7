import { z } from "zod";
import { failure, type ErrorCode } from "./errors";
import type { Logger } from "./logger";
import { defineOperation } from "./operation";
import type { ChannelRefresher, RefreshOutcome } from "./refresh";
import type { Store } from "./store";
import type { ExpiringChannelRow } from "./store/channels";
import type { TokenExpirationInfo } from "./types";
import { idSchema } from "./validation";

/** The window the specification uses when none is given: channels expiring within 60 minutes. */
export const DEFAULT_REFRESH_BEFORE_MINUTES = 60;
/** The most channels one batch refresh or one detection answer carries. */
export const MAX_BATCH_CHANNELS = 1000;
export const MAX_LISTED_CHANNELS = 10_000;

const minutesSchema = z.number().int("must be a whole number").min(0, "must not be negative").max(525_600, "must be at most 525600 (one year)");

export const refreshChannelTokenInput = z.strictObject({ channelId: idSchema, tenantId: idSchema });
export const refreshMultipleChannelTokensInput = z.strictObject({
  tenantId: idSchema,
  channelIds: z.array(idSchema).min(1, "must list at least one channel").max(MAX_BATCH_CHANNELS, `must list at most ${MAX_BATCH_CHANNELS} channels`).optional(),
});
export const getChannelsNeedingTokenRefreshInput = z.strictObject({
  tenantId: idSchema,
  refreshBeforeMinutes: minutesSchema.default(DEFAULT_REFRESH_BEFORE_MINUTES),
});
export const getRefreshStatisticsInput = getChannelsNeedingTokenRefreshInput;

/** The answer of getRefreshStatistics: the tenant's channels counted by what they need (the specification's shape). */
export interface RefreshStatistics {
  totalChannels: number;
  channelsNeedingRefresh: number;
  channelsWithRefreshToken: number;
  /** Expire within the window (60 min by default), not yet expired. */
  urgentChannels: number;
  expiredChannels: number;
  needsReauth: number;
}

export interface ChannelRefreshAnswer {
  channelId: string;
  success: boolean;
  newExpiresAt?: string;
  error?: string;
  code?: ErrorCode;
  /** With RATE_LIMITED: when this channel may be tried again. */
  retryAfterSeconds?: number;
}

export interface OperationDependencies {
  store: Store;
  refresher: ChannelRefresher;
  logger: Logger;
  /** How many channels one batch refreshes at once. @defaultValue 3 */
  batchConcurrency: number;
  now?: () => Date;
}

export function toExpirationInfo(row: ExpiringChannelRow, now: Date): TokenExpirationInfo {
  return {
    channelId: row.id,
    channelType: row.type,
    displayName: row.displayName,
    localName: row.localName,
    expiresAt: row.expiresAt.toISOString(),
    minutesUntilExpiration: Math.floor((row.expiresAt.getTime() - now.getTime()) / 60_000),
    hasRefreshToken: row.hasRefreshToken,
  };
}

function answerOf(outcome: RefreshOutcome): ChannelRefreshAnswer {
  if (outcome.success) {
    return { channelId: outcome.channelId, success: true, ...(outcome.newExpiresAt && { newExpiresAt: outcome.newExpiresAt }) };
  }
  return {
    channelId: outcome.channelId,
    success: false,
    error: outcome.error,
    code: outcome.code,
    ...(outcome.retryAfterMs !== undefined && { retryAfterSeconds: Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)) }),
  };
}

/** Runs `work` over `items` with at most `limit` in flight, keeping the order of the answers. */
async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** The operations of the specification that work on the store directly (the queue adds the other four). */
export function createRefreshOperations(deps: OperationDependencies) {
  const now = deps.now ?? (() => new Date());
  const { store, refresher, logger } = deps;

  const tenantExists = async (tenantId: string) => store.tenants.exists(tenantId);
  const noTenant = () => failure("NOT_FOUND", "No tenant with this id.");

  return {
    /** Refreshes one channel now, through its platform's API. */
    refreshChannelToken: defineOperation("refreshChannelToken", refreshChannelTokenInput, logger, async (input) => {
      const outcome = await refresher.refresh({ tenantId: input.tenantId, channelId: input.channelId, trigger: "manual" });
      if (!outcome.success) {
        return failure(outcome.code, outcome.error, outcome.retryAfterMs ? { retryAfterSeconds: Math.ceil(outcome.retryAfterMs / 1000) } : {});
      }
      return {
        success: true as const,
        channelId: outcome.channelId,
        newExpiresAt: outcome.newExpiresAt,
        refreshedAt: outcome.refreshedAt,
      };
    }),

    /** Refreshes the listed channels, or every channel of the tenant that needs it, a few at a time. */
    refreshMultipleChannelTokens: defineOperation(
      "refreshMultipleChannelTokens",
      refreshMultipleChannelTokensInput,
      logger,
      async (input) => {
        if (!(await tenantExists(input.tenantId))) return noTenant();
        const ids = input.channelIds
          ? [...new Set(input.channelIds)]
          : (await store.expiry.needingRefresh(
              input.tenantId,
              new Date(now().getTime() + DEFAULT_REFRESH_BEFORE_MINUTES * 60_000),
              MAX_BATCH_CHANNELS,
            )).map((row) => row.id);
        const results = await mapBounded(ids, deps.batchConcurrency, async (channelId) =>
          answerOf(await refresher.refresh({ tenantId: input.tenantId, channelId, trigger: "batch" })),
        );
        const succeeded = results.filter((result) => result.success).length;
        return { success: true as const, processed: results.length, succeeded, failed: results.length - succeeded, results };
      },
    ),

    /** Channels expiring within the window (expired ones included), soonest first. */
    getChannelsNeedingTokenRefresh: defineOperation(
      "getChannelsNeedingTokenRefresh",
      getChannelsNeedingTokenRefreshInput,
      logger,
      async (input) => {
        const at = now();
        const rows = await store.expiry.needingRefresh(
          input.tenantId,
          new Date(at.getTime() + input.refreshBeforeMinutes * 60_000),
          MAX_LISTED_CHANNELS,
        );
        // Only an empty answer needs the second look: one round trip on the hot path.
        if (rows.length === 0 && !(await tenantExists(input.tenantId))) return noTenant();
        return { success: true as const, channels: rows.map((row) => toExpirationInfo(row, at)) };
      },
    ),

    /** Counts of the tenant's channels by what they need. */
    getRefreshStatistics: defineOperation("getRefreshStatistics", getRefreshStatisticsInput, logger, async (input) => {
      const at = now();
      const statistics: RefreshStatistics = await store.expiry.statistics(
        input.tenantId,
        at,
        new Date(at.getTime() + input.refreshBeforeMinutes * 60_000),
      );
      if (statistics.totalChannels === 0 && !(await tenantExists(input.tenantId))) return noTenant();
      return { success: true as const, statistics };
    }),
  };
}
