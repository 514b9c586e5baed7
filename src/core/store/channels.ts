import { and, asc, eq, getTableColumns, sql } from "drizzle-orm";
import type pg from "pg";
import type { Channel, ChannelStatus, Platform } from "../types";
import type { Database } from "./database";
import { channels, refreshEvents, tenants, type ChannelRow, type NewRefreshEvent } from "./schema";

/** The stored row mapped to the domain shape; the encrypted credentials stay behind. */
export function toChannel(row: ChannelRow): Channel {
  return {
    id: row.id,
    tenantId: row.tenantId,
    type: row.type as Platform,
    displayName: row.displayName,
    localName: row.localName,
    status: row.status as ChannelStatus,
    meta: row.meta,
    platformDetails: row.platformDetails,
    expiresAt: row.expiresAt,
    refreshTokenExpiresAt: row.refreshTokenExpiresAt,
    hasRefreshToken: row.hasRefreshToken,
    version: row.version,
    lastRefreshedAt: row.lastRefreshedAt,
    lastAttemptAt: row.lastAttemptAt,
    lastOutcome: row.lastOutcome,
    lastErrorCode: row.lastErrorCode,
    failureCount: row.failureCount,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export interface ChannelWrite {
  tenantId: string;
  id: string;
  type: Platform;
  displayName: string;
  localName: string;
  meta: Record<string, unknown>;
  credentials: string;
  keyId: string;
  /** undefined: keep the stored value on update (unknown on insert: refresh soon to learn it). */
  expiresAt: Date | null | undefined;
  refreshTokenExpiresAt: Date | null | undefined;
  hasRefreshToken: boolean;
}

/** What a successful refresh writes. */
export interface RefreshWrite {
  credentials: string;
  keyId: string;
  expiresAt: Date | null;
  refreshTokenExpiresAt: Date | null;
  hasRefreshToken: boolean;
  /** Set when the platform answered but the token does not live longer: the channel needs reconnecting. */
  flag?: { code: string; message: string };
  /** Non-secret facts of the platform's answer (open_id, scope), merged into the channel's platform details. */
  details?: Record<string, string>;
}

/** What a failed refresh writes. */
export interface FailureWrite {
  code: string;
  message: string;
  needsReauth: boolean;
}

export type RefreshEvent = Omit<NewRefreshEvent, "id" | "createdAt" | "tenantId" | "channelId">;

// Every column of `channels` under the name ChannelRow gives it, for the statements written in SQL below.
const CHANNEL_ROW = Object.entries(getTableColumns(channels))
  .map(([key, column]) => `"${column.name}" as "${key}"`)
  .join(", ");

/**
 * A successful refresh and its event in one statement: one round trip instead of a four-step transaction (a refresh
 * is the hot path). The event is inserted only when the compare-and-set matched, exactly as the transaction did.
 */
const SAVE_REFRESH = `
with saved as (
  update channels
     set credentials = $4, key_id = $5, expires_at = $6, refresh_token_expires_at = $7, has_refresh_token = $8,
         status = case when $9::text is null then 'active' else 'needs_reauth' end,
         last_refreshed_at = now(), last_attempt_at = now(),
         last_outcome = case when $9::text is null then 'success' else 'failure' end,
         last_error_code = $9::text, last_error = $10::text,
         failure_count = case when $9::text is null then 0 else failure_count + 1 end,
         refresh_attempt_id = null, refresh_started_at = null, version = version + 1, updated_at = now(),
         platform_details = platform_details || coalesce($21::jsonb, '{}'::jsonb)
   where tenant_id = $1 and id = $2 and version = $3
  returning *
), event as (
  insert into refresh_events (tenant_id, channel_id, job_id, trigger, attempt, outcome, error_code, error_message,
                              http_status, duration_ms, old_expires_at, new_expires_at)
  select tenant_id, id, $11::text, $12::text, $13::int, $14::text, $15::text, $16::text, $17::int, $18::int,
         $19::timestamptz, $20::timestamptz
    from saved
)
select ${CHANNEL_ROW} from saved`;

/**
 * Reads the channel a refresh is about to work on and, in the same statement, marks the attempt when it will call
 * a platform whose refresh token is single-use: a crash before the save then leaves the marker for the next
 * attempt to find. The row returned is as it was before the mark (its marker tells of an earlier interrupted attempt).
 */
const CLAIM_FOR_REFRESH = `
with current as (
  select * from channels where tenant_id = $1 and id = $2
), marked as (
  update channels c
     set refresh_attempt_id = $3, refresh_started_at = now()
    from current
   where c.tenant_id = current.tenant_id and c.id = current.id
     and current.type = any($4::text[]) and current.status = 'active' and current.expires_at is not null
     and ($5::timestamptz is null or current.expires_at <= $5::timestamptz)
  returning c.id
)
select ${CHANNEL_ROW} from current`;

/** Which refreshes `claimForRefresh` marks as in flight. */
export interface AttemptMark {
  attemptId: string;
  /** Platforms whose refresh token is single-use. */
  platforms: readonly string[];
  /** Only a channel due by then is refreshed, so only then marked; null: any active, expiring channel. */
  dueBy: Date | null;
}

export class ChannelRepository {
  // Built once and prepared by name on each connection: every refresh runs these, so neither Drizzle nor
  // PostgreSQL re-plans them each time.
  private readonly findStatement;
  private readonly markAttemptStatement;

  constructor(
    private readonly db: Database,
    private readonly pool: pg.Pool,
  ) {
    const byKey = and(eq(channels.tenantId, sql.placeholder("tenantId")), eq(channels.id, sql.placeholder("id")));
    this.findStatement = db.select().from(channels).where(byKey).limit(1).prepare("refresca_channel_find");
    this.markAttemptStatement = db
      .update(channels)
      .set({ refreshAttemptId: sql`${sql.placeholder("attemptId")}`, refreshStartedAt: sql`now()` })
      .where(byKey)
      .prepare("refresca_channel_mark_attempt");
  }

  /** Creates the channel (and its tenant) or replaces it; a reconnect makes a flagged channel active again. */
  async upsert(write: ChannelWrite): Promise<Channel> {
    return this.db.transaction(async (tx) => {
      await tx.insert(tenants).values({ id: write.tenantId, name: write.tenantId }).onConflictDoNothing();
      const [row] = await tx
        .insert(channels)
        .values({ ...write, expiresAt: write.expiresAt === undefined ? new Date() : write.expiresAt })
        .onConflictDoUpdate({
          target: [channels.tenantId, channels.id],
          set: {
            type: write.type,
            displayName: write.displayName,
            localName: write.localName,
            meta: write.meta,
            credentials: write.credentials,
            keyId: write.keyId,
            ...(write.expiresAt !== undefined && { expiresAt: write.expiresAt }),
            ...(write.refreshTokenExpiresAt !== undefined && { refreshTokenExpiresAt: write.refreshTokenExpiresAt }),
            hasRefreshToken: write.hasRefreshToken,
            status: "active",
            failureCount: 0,
            lastErrorCode: null,
            lastError: null,
            refreshAttemptId: null,
            refreshStartedAt: null,
            version: sql`${channels.version} + 1`,
            updatedAt: sql`now()`,
          },
        })
        .returning();
      return toChannel(row!);
    });
  }

  /** The channel with its encrypted credentials, or null when this tenant has no such channel. */
  async find(tenantId: string, id: string): Promise<ChannelRow | null> {
    const [row] = await this.findStatement.execute({ tenantId, id });
    return row ?? null;
  }

  async list(tenantId: string, options: { limit?: number; offset?: number } = {}): Promise<Channel[]> {
    const rows = await this.db
      .select()
      .from(channels)
      .where(eq(channels.tenantId, tenantId))
      .orderBy(asc(channels.id))
      .limit(options.limit ?? 1000)
      .offset(options.offset ?? 0);
    return rows.map(toChannel);
  }

  /** Removes the channel; resolves to what it was (for cleaning up its queued jobs), or null if there was none. */
  async remove(tenantId: string, id: string): Promise<Channel | null> {
    const [row] = await this.db
      .delete(channels)
      .where(and(eq(channels.tenantId, tenantId), eq(channels.id, id)))
      .returning();
    return row ? toChannel(row) : null;
  }

  /** Marks a refresh of a rotating platform as in flight, so a crash before the save is found later. */
  async markAttempt(tenantId: string, id: string, attemptId: string): Promise<void> {
    await this.markAttemptStatement.execute({ tenantId, id, attemptId });
  }

  /**
   * The channel as a refresh finds it, marking the attempt in the same round trip when it is due and on a platform
   * in `mark.platforms` (see CLAIM_FOR_REFRESH). Null when this tenant has no such channel.
   */
  async claimForRefresh(tenantId: string, id: string, mark: AttemptMark): Promise<ChannelRow | null> {
    const { rows } = await this.pool.query<ChannelRow>({
      name: "refresca_channel_claim",
      text: CLAIM_FOR_REFRESH,
      values: [tenantId, id, mark.attemptId, mark.platforms, mark.dueBy],
    });
    return rows[0] ?? null;
  }

  /**
   * Saves a refresh only if nobody wrote the channel since `expectedVersion` (compare-and-set), in the same
   * transaction as its event. Resolves to the saved channel, or null when the version moved on.
   */
  async saveRefresh(
    tenantId: string,
    id: string,
    expectedVersion: number,
    write: RefreshWrite,
    event: RefreshEvent,
  ): Promise<Channel | null> {
    const { rows } = await this.pool.query<ChannelRow>({
      name: "refresca_channel_save_refresh",
      text: SAVE_REFRESH,
      values: [
        tenantId,
        id,
        expectedVersion,
        write.credentials,
        write.keyId,
        write.expiresAt,
        write.refreshTokenExpiresAt,
        write.hasRefreshToken,
        write.flag?.code ?? null,
        write.flag?.message ?? null,
        event.jobId ?? null,
        event.trigger,
        event.attempt ?? 1,
        event.outcome,
        event.errorCode ?? null,
        event.errorMessage ?? null,
        event.httpStatus ?? null,
        event.durationMs,
        event.oldExpiresAt ?? null,
        event.newExpiresAt ?? null,
        write.details ? JSON.stringify(write.details) : null,
      ],
    });
    return rows[0] ? toChannel(rows[0]) : null;
  }

  /** Records a failed attempt and its event; invalid credentials take the channel out of automatic refresh. */
  async saveFailure(tenantId: string, id: string, write: FailureWrite, event: RefreshEvent): Promise<Channel | null> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(channels)
        .set({
          ...(write.needsReauth && { status: "needs_reauth" }),
          lastAttemptAt: sql`now()`,
          lastOutcome: "failure",
          lastErrorCode: write.code,
          lastError: write.message,
          failureCount: sql`${channels.failureCount} + 1`,
          refreshAttemptId: null,
          refreshStartedAt: null,
          version: sql`${channels.version} + 1`,
          updatedAt: sql`now()`,
        })
        .where(and(eq(channels.tenantId, tenantId), eq(channels.id, id)))
        .returning();
      if (!row) return null;
      await tx.insert(refreshEvents).values({ ...event, tenantId, channelId: id });
      return toChannel(row);
    });
  }
}

/** A row of the expiry queries: only what TokenExpirationInfo needs. */
export interface ExpiringChannelRow {
  id: string;
  type: string;
  displayName: string;
  localName: string;
  expiresAt: Date;
  hasRefreshToken: boolean;
}

export interface ChannelStatisticsRow {
  totalChannels: number;
  channelsNeedingRefresh: number;
  channelsWithRefreshToken: number;
  urgentChannels: number;
  expiredChannels: number;
  needsReauth: number;
}

/** The two questions every dashboard and sweep asks, answered from the (tenant_id, expires_at) index. */
export class ExpiryQueries {
  constructor(private readonly pool: pg.Pool) {}

  /** Active channels of one tenant that expire before `until` (expired ones included), soonest first. */
  async needingRefresh(tenantId: string, until: Date, limit: number): Promise<ExpiringChannelRow[]> {
    const { rows } = await this.pool.query<ExpiringChannelRow>(
      `select id, type, display_name as "displayName", local_name as "localName",
              expires_at as "expiresAt", has_refresh_token as "hasRefreshToken"
         from channels
        where tenant_id = $1 and expires_at <= $2 and status = 'active'
        order by expires_at asc
        limit $3`,
      [tenantId, until, limit],
    );
    return rows;
  }

  /** One page of the same question, for sweeps over tenants with many channels (keyset pagination). */
  async needingRefreshPage(
    tenantId: string,
    until: Date,
    after: { expiresAt: Date; id: string } | null,
    limit: number,
  ): Promise<ExpiringChannelRow[]> {
    const { rows } = await this.pool.query<ExpiringChannelRow>(
      `select id, type, display_name as "displayName", local_name as "localName",
              expires_at as "expiresAt", has_refresh_token as "hasRefreshToken"
         from channels
        where tenant_id = $1 and expires_at <= $2 and status = 'active'
          and ($3::timestamptz is null or (expires_at, id) > ($3::timestamptz, $4::text))
        order by expires_at asc, id asc
        limit $5`,
      [tenantId, until, after?.expiresAt ?? null, after?.id ?? null, limit],
    );
    return rows;
  }

  /** Every active channel with an expiry, page by page: what the queue's expiry-driven jobs are rebuilt from. */
  async expiringPage(after: { tenantId: string; id: string } | null, limit: number) {
    const { rows } = await this.pool.query<{ tenantId: string; id: string; type: string; expiresAt: Date }>(
      `select tenant_id as "tenantId", id, type, expires_at as "expiresAt"
         from channels
        where status = 'active' and expires_at is not null
          and ($1::text is null or (tenant_id, id) > ($1::text, $2::text))
        order by tenant_id, id
        limit $3`,
      [after?.tenantId ?? null, after?.id ?? null, limit],
    );
    return rows;
  }

  async statistics(tenantId: string, now: Date, until: Date): Promise<ChannelStatisticsRow> {
    const { rows } = await this.pool.query(
      `select count(*)::int as "totalChannels",
              count(*) filter (where status = 'active' and expires_at <= $3)::int as "channelsNeedingRefresh",
              count(*) filter (where has_refresh_token)::int as "channelsWithRefreshToken",
              count(*) filter (where status = 'active' and expires_at > $2 and expires_at <= $3)::int as "urgentChannels",
              count(*) filter (where expires_at <= $2)::int as "expiredChannels",
              count(*) filter (where status = 'needs_reauth')::int as "needsReauth"
         from channels
        where tenant_id = $1`,
      [tenantId, now, until],
    );
    return rows[0] as ChannelStatisticsRow;
  }
}
