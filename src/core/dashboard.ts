import { z } from "zod";
import { failure } from "./errors";
import type { Logger } from "./logger";
import { defineOperation } from "./operation";
import { CHANNEL_SORTS, type Store } from "./store";
import { PLATFORMS } from "./types";
import { idSchema } from "./validation";

/** Rows per page of the channel list. @defaultValue 50 */
export const DEFAULT_PAGE_SIZE = 50;

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export const listChannelsInput = z.strictObject({
  tenantId: idSchema,
  type: z.enum(PLATFORMS, { error: `must be one of ${PLATFORMS.join(", ")}` }).optional(),
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
export function createDashboardQueries(deps: { store: Store; logger: Logger; now?: () => Date }) {
  const { store, logger } = deps;
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
