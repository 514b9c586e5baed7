import type pg from "pg";
import type { ChannelStatus, Platform } from "../types";

/** The columns a channel list can be sorted by. */
export const CHANNEL_SORTS = ["expiresAt", "displayName", "type", "status"] as const;
export type ChannelSort = (typeof CHANNEL_SORTS)[number];

export interface ChannelListQuery {
  type?: Platform;
  status?: ChannelStatus;
  /** Matched, case-insensitively, anywhere in the display name, the local name or the id. */
  search?: string;
  /** @defaultValue "expiresAt" */
  sort?: ChannelSort;
  /** @defaultValue "asc" */
  direction?: "asc" | "desc";
  limit: number;
  offset: number;
}

/** One row of a channel list: what a table shows, never the credentials. */
export interface ChannelListRow {
  id: string;
  type: Platform;
  displayName: string;
  localName: string;
  status: ChannelStatus;
  expiresAt: Date | null;
  hasRefreshToken: boolean;
  lastRefreshedAt: Date | null;
  lastAttemptAt: Date | null;
  lastOutcome: string | null;
  lastErrorCode: string | null;
  failureCount: number;
  /** Since when every refresh has failed; null while the last one succeeded. */
  failingSince: Date | null;
}

/** Cumulative counts of tokens by how soon they expire. */
export interface ExpiryHorizon {
  expired: number;
  within1h: number;
  within24h: number;
  within7d: number;
  within30d: number;
  neverExpires: number;
}

// Whitelisted ORDER BY clauses; `id` last keeps pages stable when values tie. Expiry ascending puts tokens that never
// expire last and descending first, the two directions of the (tenant_id, expires_at) index; names use
// (tenant_id, display_name, id), platforms (tenant_id, type, display_name, id) — which also serves a platform filter
// sorted by name; status sorts the tenant's rows (a bounded top-N sort, a few ms for 10,000 channels).
const ORDER: Record<ChannelSort, Record<"asc" | "desc", string>> = {
  expiresAt: { asc: "expires_at asc nulls last, id asc", desc: "expires_at desc nulls first, id desc" },
  displayName: { asc: "display_name asc, id asc", desc: "display_name desc, id desc" },
  type: { asc: "type asc, display_name asc, id asc", desc: "type desc, display_name desc, id desc" },
  status: { asc: "status asc, expires_at asc nulls last, id asc", desc: "status desc, expires_at desc nulls first, id desc" },
};

export interface ChannelTypeCounts {
  type: string;
  channels: number;
  needsReauth: number;
  failing: number;
  expired: number;
}

/** The dashboard's reads: one page of a tenant's channels, and how soon its tokens expire. */
export class ChannelListing {
  constructor(private readonly pool: pg.Pool) {}

  /** One page of the tenant's channels, filtered and sorted in SQL, with the count of all matching rows. */
  async page(tenantId: string, query: ChannelListQuery): Promise<{ rows: ChannelListRow[]; total: number }> {
    const values: unknown[] = [tenantId];
    const where = ["tenant_id = $1"];
    if (query.type) where.push(`type = $${values.push(query.type)}`);
    if (query.status) where.push(`status = $${values.push(query.status)}`);
    if (query.search) {
      // One strpos over the lowered text: about twice as fast as three ILIKEs, and no wildcard to escape.
      where.push(`strpos(lower(display_name || ' ' || local_name || ' ' || id), lower($${values.push(query.search)})) > 0`);
    }
    const filter = where.join(" and ");
    const order = ORDER[query.sort ?? "expiresAt"][query.direction ?? "asc"];
    const [page, count] = await Promise.all([
      this.pool.query<ChannelListRow>(
        `select id, type, display_name as "displayName", local_name as "localName", status,
                expires_at as "expiresAt", has_refresh_token as "hasRefreshToken",
                last_refreshed_at as "lastRefreshedAt", last_attempt_at as "lastAttemptAt",
                last_outcome as "lastOutcome", last_error_code as "lastErrorCode", failure_count as "failureCount",
                failing_since as "failingSince"
           from channels
          where ${filter}
          order by ${order}
          limit $${values.length + 1} offset $${values.length + 2}`,
        [...values, query.limit, query.offset],
      ),
      this.pool.query<{ total: number }>(`select count(*)::int as total from channels where ${filter}`, values),
    ]);
    return { rows: page.rows, total: count.rows[0]?.total ?? 0 };
  }

  /** Every tenant's channels counted per type: all, and active ones. */
  async countsByType(): Promise<Array<{ type: string; channels: number; active: number }>> {
    const { rows } = await this.pool.query<{ type: string; channels: number; active: number }>(
      `select type, count(*)::int as channels, count(*) filter (where status = 'active')::int as active
         from channels group by type order by type`,
    );
    return rows;
  }

  /** The tenant's channels counted per type: all, flagged, failing, expired. */
  async byType(tenantId: string, now: Date): Promise<ChannelTypeCounts[]> {
    const { rows } = await this.pool.query<ChannelTypeCounts>(
      `select type, count(*)::int as channels,
              count(*) filter (where status = 'needs_reauth')::int as "needsReauth",
              count(*) filter (where status = 'active' and failing_since is not null)::int as failing,
              count(*) filter (where expires_at <= $2)::int as expired
         from channels
        where tenant_id = $1
        group by type`,
      [tenantId, now],
    );
    return rows;
  }

  /** How many of the tenant's tokens are expired, or expire within 1 h, 24 h, 7 d and 30 d (cumulative). */
  async horizon(tenantId: string, now: Date): Promise<ExpiryHorizon> {
    // Two index range reads on (tenant_id, expires_at): the next 30 days, and the tokens that never expire.
    const { rows } = await this.pool.query<ExpiryHorizon>(
      `select count(*) filter (where expires_at <= $2)::int as expired,
              count(*) filter (where expires_at > $2 and expires_at <= $2 + interval '1 hour')::int as "within1h",
              count(*) filter (where expires_at > $2 and expires_at <= $2 + interval '24 hours')::int as "within24h",
              count(*) filter (where expires_at > $2 and expires_at <= $2 + interval '7 days')::int as "within7d",
              count(*) filter (where expires_at > $2)::int as "within30d",
              (select count(*)::int from channels where tenant_id = $1 and expires_at is null) as "neverExpires"
         from channels
        where tenant_id = $1 and expires_at <= $2 + interval '30 days'`,
      [tenantId, now],
    );
    return rows[0]!;
  }
}
