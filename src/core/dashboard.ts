import { z } from "zod";
import { failure } from "./errors";
import type { Logger } from "./logger";
import { defineOperation } from "./operation";
import { CHANNEL_SORTS, type ChannelSort, type ExpiryHorizon, type Store } from "./store";
import { PLATFORM_ID } from "./providers";
import { idSchema } from "./validation";

/** Rows per page of the channel list. @defaultValue 50 */
export const DEFAULT_PAGE_SIZE = 50;

const iso = (date: Date | null) => (date ? date.toISOString() : null);

/** How many tokens expire within each horizon (the dashboard's chart). */
export type { ExpiryHorizon };

/** The form of a channel type, for pages that read one from a URL. */
export { PLATFORM_ID };

/** The orders the channel list offers. */
export const CHANNEL_LIST_SORTS = CHANNEL_SORTS;
export type ChannelListSort = ChannelSort;

/** A channel type as people see it: the built-in platforms, the presets and the configured providers alike. */
export interface PlatformView {
  id: string;
  displayName: string;
  /** Its badge colour (a CSS colour), when the platform has one. */
  color?: string;
}

/** Per channel type: how many channels, and how many need attention. */
export interface PlatformBreakdownRow extends PlatformView {
  channels: number;
  needsReauth: number;
  failing: number;
  expired: number;
  /** false: channels of a type this instance no longer refreshes (its provider was removed from the configuration). */
  configured: boolean;
}

export const listChannelsInput = z.strictObject({
  tenantId: idSchema,
  // Any channel type, not only the configured ones: channels of a provider since removed from the configuration can
  // still be listed. The format is the providers' id format (DESIGN §2).
  type: z.string().regex(PLATFORM_ID, "must be a platform id such as instagram").optional(),
  status: z.enum(["active", "needs_reauth", "disabled"], { error: "must be active, needs_reauth or disabled" }).optional(),
  search: z.string().trim().max(100, "must be at most 100 characters").optional(),
  sort: z.enum(CHANNEL_SORTS, { error: `must be one of ${CHANNEL_SORTS.join(", ")}` }).default("expiresAt"),
  direction: z.enum(["asc", "desc"], { error: "must be asc or desc" }).default("asc"),
  page: z.number().int().min(1, "must be at least 1").max(100_000).default(1),
  pageSize: z.number().int().min(1).max(200, "must be at most 200").default(DEFAULT_PAGE_SIZE),
});
const tenantInput = z.strictObject({ tenantId: idSchema });
const eventsInput = z.strictObject({ tenantId: idSchema, limit: z.number().int().min(1).max(200).default(20) });

/** The reads behind the dashboard: tenant-scoped like the specification's operations, and never a token. */
export function createDashboardQueries(deps: { store: Store; logger: Logger; platforms: readonly PlatformView[]; now?: () => Date }) {
  const { store, logger, platforms } = deps;
  const platformOrder = new Map(platforms.map((platform, index) => [platform.id, { platform, index }]));
  const now = deps.now ?? (() => new Date());
  const noTenant = () => failure("NOT_FOUND", "No tenant with this id.");

  return {
    /** One page of the tenant's channels, filtered and sorted by the database. */
    listChannels: defineOperation("dashboard.listChannels", listChannelsInput, logger, async (input) => {
      if (!(await store.tenants.exists(input.tenantId))) return noTenant();
      const { rows, total } = await store.listing.page(input.tenantId, {
        ...(input.type && { type: input.type }),
        ...(input.status && { status: input.status }),
        ...(input.search && { search: input.search }),
        sort: input.sort,
        direction: input.direction,
        limit: input.pageSize,
        offset: (input.page - 1) * input.pageSize,
      });
      return {
        success: true as const,
        total,
        page: input.page,
        pageSize: input.pageSize,
        pageCount: Math.max(1, Math.ceil(total / input.pageSize)),
        channels: rows.map((row) => ({
          ...row,
          expiresAt: iso(row.expiresAt),
          lastRefreshedAt: iso(row.lastRefreshedAt),
          lastAttemptAt: iso(row.lastAttemptAt),
          failingSince: iso(row.failingSince),
        })),
      };
    }),

    /** The channel types of the tenant's channels, in the instance's platform order, with what needs attention. */
    platformBreakdown: defineOperation("dashboard.platformBreakdown", tenantInput, logger, async (input) => {
      if (!(await store.tenants.exists(input.tenantId))) return noTenant();
      const rows = await store.listing.byType(input.tenantId, now());
      const breakdown: PlatformBreakdownRow[] = rows
        .map((row) => {
          const known = platformOrder.get(row.type);
          return {
            ...row,
            id: row.type,
            displayName: known?.platform.displayName ?? row.type,
            ...(known?.platform.color && { color: known.platform.color }),
            configured: known !== undefined,
          };
        })
        .sort((a, b) => (platformOrder.get(a.id)?.index ?? Infinity) - (platformOrder.get(b.id)?.index ?? Infinity) || a.id.localeCompare(b.id))
        .map(({ type: _type, ...row }) => row);
      return { success: true as const, platforms: breakdown };
    }),

    /** How many tokens are expired, or expire within 1 h, 24 h, 7 d and 30 d. */
    expiryHorizon: defineOperation("dashboard.expiryHorizon", tenantInput, logger, async (input) => {
      if (!(await store.tenants.exists(input.tenantId))) return noTenant();
      return { success: true as const, horizon: await store.listing.horizon(input.tenantId, now()) };
    }),

    /** The latest refresh attempts of the tenant, newest first, with their error codes. */
    recentEvents: defineOperation("dashboard.recentEvents", eventsInput, logger, async (input) => {
      if (!(await store.tenants.exists(input.tenantId))) return noTenant();
      const rows = await store.events.recent(input.tenantId, { limit: input.limit });
      return {
        success: true as const,
        events: rows.map((row) => ({
          id: row.id,
          channelId: row.channelId,
          trigger: row.trigger,
          attempt: row.attempt,
          outcome: row.outcome,
          errorCode: row.errorCode,
          errorMessage: row.errorMessage,
          httpStatus: row.httpStatus,
          durationMs: row.durationMs,
          newExpiresAt: iso(row.newExpiresAt),
          createdAt: row.createdAt.toISOString(),
        })),
      };
    }),
  };
}
