import { and, asc, eq, getTableColumns, sql } from "drizzle-orm";
import type pg from "pg";
import type { Channel, ChannelStatus, Platform } from "../types";
import type { Database } from "./database";
import { channels, tenants, type ChannelRow, type NewRefreshEvent } from "./schema";

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
    failingSince: row.failingSince,
    nextRefreshAt: row.nextRefreshAt,
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
  /** false: the same credentials as stored (an edit, not a reconnect). @defaultValue true */
  credentialsChanged?: boolean;
  /** The channel's plan from now on (see src/core/plan.ts); null: none. */
  nextRefreshAt: Date | null;
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

/**
 * Whose outcome a write is, and what it plans. The write lands only while the channel still carries this attempt's
 * id: an attempt whose claim was taken over (its lock lost) or cleared (a reconnect) writes nothing.
 */
export interface AttemptFence {
  attemptId: string;
  /** The next refresh (src/core/plan.ts); null: none until the channel is reconnected. */
  nextRefreshAt: Date | null;
}

/** What a failed refresh writes. */
export interface FailureWrite extends AttemptFence {
  code: string;
  message: string;
  needsReauth: boolean;
  /**
   * Whether the failure starts or continues a failing episode (`failing_since`, `failure_count`, and in time the
   * refresh_failing webhook). false for the platform's "not yet" (the 24-hour rule): the token is fine, only early.
   */
  failing: boolean;
  /** The platform's "not before" for this channel, when it gave one. */
  notBefore: Date | null;
  /** The platform throttled its whole app until then: every platform in `appPlatforms` holds. */
  appNotBefore: Date | null;
  appPlatforms: readonly string[];
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
         failing_since = case when $9::text is null then null else coalesce(failing_since, now()) end,
         next_refresh_at = $23::timestamptz, not_before = null,
         refresh_attempt_id = null, refresh_started_at = null, version = version + 1, updated_at = now(),
         platform_details = platform_details || coalesce($21::jsonb, '{}'::jsonb)
   where tenant_id = $1 and id = $2 and version = $3 and refresh_attempt_id = $22::text
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
 * A failed refresh, its event and, when the platform throttled its whole app, that app's "not before", in one
 * statement. Like a success, it lands only while the channel still carries the attempt's id.
 */
const SAVE_FAILURE = `
with saved as (
  update channels
     set status = case when $3::boolean then 'needs_reauth' else status end,
         last_attempt_at = now(), last_outcome = 'failure', last_error_code = $4::text, last_error = $5::text,
         failure_count = failure_count + case when $18::boolean then 1 else 0 end,
         failing_since = case when $18::boolean then coalesce(failing_since, now()) else failing_since end,
         next_refresh_at = $7::timestamptz, not_before = coalesce($8::timestamptz, not_before),
         refresh_attempt_id = null, refresh_started_at = null, version = version + 1, updated_at = now()
   where tenant_id = $1 and id = $2 and refresh_attempt_id = $6::text
  returning *
), event as (
  insert into refresh_events (tenant_id, channel_id, job_id, trigger, attempt, outcome, error_code, error_message,
                              http_status, duration_ms, old_expires_at, new_expires_at)
  select tenant_id, id, $11::text, $12::text, $13::int, 'failure', $4::text, $14::text, $15::int, $16::int,
         $17::timestamptz, null
    from saved
), app as (
  insert into platform_throttles (platform, not_before)
  select platform, $9::timestamptz from saved, unnest($10::text[]) as platform where $9::timestamptz is not null
  on conflict (platform) do update
     set not_before = greatest(platform_throttles.not_before, excluded.not_before), updated_at = now()
)
select ${CHANNEL_ROW} from saved`;

/**
 * Reads the channel a refresh is about to work on and, in the same statement, claims it for this attempt when the
 * platform is to be called: the attempt's id (which fences every write of its outcome), and a fallback plan, so that
 * a process that dies before it writes an outcome leaves a channel that comes due again. It is not claimed when the
 * refresh is not due (`ifExpiresBy`), when a queued job's plan was replaced since (`version`), or while the
 * platform's "not before" (the channel's, or its platform app's) holds. The row returned is as it was before the
 * claim (its marker tells of an earlier interrupted attempt).
 */
const CLAIM_FOR_REFRESH = `
with current as (
  select c.*, greatest(c.not_before, t.not_before) as throttled_until
    from channels c left join platform_throttles t on t.platform = c.type
   where c.tenant_id = $1 and c.id = $2
), marked as (
  update channels c
     set refresh_attempt_id = $3, refresh_started_at = now(), next_refresh_at = $6::timestamptz
    from current
   where c.tenant_id = current.tenant_id and c.id = current.id
     and current.status = 'active' and current.expires_at is not null
     and ($7::boolean or (
           -- At the millisecond, as the caller read it: expiries written by SQL carry microseconds.
           ($4::timestamptz is null or date_trunc('milliseconds', current.expires_at) <= $4::timestamptz)
       and ($5::int is null or current.version = $5::int)
       and (current.throttled_until is null or current.throttled_until <= now())))
  returning c.id
)
select ${CHANNEL_ROW}, throttled_until as "throttledUntil", exists (select 1 from marked) as "claimed" from current`;

/** What `claimForRefresh` claims for, and when not. */
export interface AttemptMark {
  attemptId: string;
  /** Only a channel due by then is refreshed, so only then claimed; null: any active, expiring channel. */
  ifExpiresBy: Date | null;
  /** A queued job's plan: claimed only while the channel's version is still this one; null: any. */
  version: number | null;
  /** The plan written with the claim: when to try again if this attempt writes nothing. */
  fallbackPlan: Date;
  /** Claim whatever the due time, version and throttles (an earlier attempt's tokens wait to be saved). */
  force: boolean;
}

/** The channel as `claimForRefresh` found it, and whether this attempt claimed it. */
export type ClaimedRow = ChannelRow & { throttledUntil: Date | null; claimed: boolean };

export class ChannelRepository {
  // Built once and prepared by name on each connection: every refresh runs these, so neither Drizzle nor
  // PostgreSQL re-plans them each time.
  private readonly findStatement;

  constructor(
    private readonly db: Database,
    private readonly pool: pg.Pool,
  ) {
    const byKey = and(eq(channels.tenantId, sql.placeholder("tenantId")), eq(channels.id, sql.placeholder("id")));
    this.findStatement = db.select().from(channels).where(byKey).limit(1).prepare("refresca_channel_find");
  }

  /** Creates the channel (and its tenant) or replaces it; a reconnect makes a flagged channel active again. */
  async upsert(write: ChannelWrite): Promise<Channel> {
    const plan = write.nextRefreshAt ?? null;
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
            // Never before a "not before" the platform asked for this channel (the claim would wait for it anyway).
            nextRefreshAt: sql`case when ${plan}::timestamptz is null then null
                                    else greatest(${plan}::timestamptz, ${channels.notBefore}) end`,
            failingSince: null,
            failureCount: 0,
            lastErrorCode: null,
            lastError: null,
            // An edit that keeps the credentials (a rename) keeps the marker of an interrupted attempt.
            ...(write.credentialsChanged !== false && { refreshAttemptId: null, refreshStartedAt: null }),
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

  /**
   * The channel as a refresh finds it, claimed for this attempt in the same round trip when the platform is to be
   * called (see CLAIM_FOR_REFRESH). Null when this tenant has no such channel.
   */
  async claimForRefresh(tenantId: string, id: string, mark: AttemptMark): Promise<ClaimedRow | null> {
    const { rows } = await this.pool.query<ClaimedRow>({
      name: "refresca_channel_claim",
      text: CLAIM_FOR_REFRESH,
      values: [tenantId, id, mark.attemptId, mark.ifExpiresBy, mark.version, mark.fallbackPlan, mark.force],
    });
    return rows[0] ?? null;
  }

  /**
   * Saves a refresh, with its event and the next plan, only if nobody wrote the channel since `expectedVersion` and it
   * still carries the attempt's id (compare-and-set on both). Resolves to the saved channel, or null on a miss.
   */
  async saveRefresh(
    tenantId: string,
    id: string,
    expectedVersion: number,
    write: RefreshWrite,
    event: RefreshEvent,
    fence: AttemptFence,
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
        fence.attemptId,
        fence.nextRefreshAt,
      ],
    });
    return rows[0] ? toChannel(rows[0]) : null;
  }

  /**
   * Records a failed attempt, its event and the next plan, only while the channel still carries the attempt's id;
   * invalid credentials take the channel out of automatic refresh. Null on a miss (a reconnect, or a newer attempt).
   */
  async saveFailure(tenantId: string, id: string, write: FailureWrite, event: RefreshEvent): Promise<Channel | null> {
    const { rows } = await this.pool.query<ChannelRow>({
      name: "refresca_channel_save_failure",
      text: SAVE_FAILURE,
      values: [
        tenantId,
        id,
        write.needsReauth,
        write.code,
        write.message,
        write.attemptId,
        write.nextRefreshAt,
        write.notBefore,
        write.appNotBefore,
        write.appPlatforms,
        event.jobId ?? null,
        event.trigger,
        event.attempt ?? 1,
        event.errorMessage ?? null,
        event.httpStatus ?? null,
        event.durationMs,
        event.oldExpiresAt ?? null,
        write.failing,
      ],
    });
    return rows[0] ? toChannel(rows[0]) : null;
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

  /**
   * One page of the same question, for sweeps over tenants with many channels (keyset pagination). Channels whose
   * platform asked not to be called yet (theirs or their platform app's "not before") are left out: a sweep never pulls
   * a refresh forward past it; the channel's plan already waits for it.
   */
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
          and (not_before is null or not_before <= now())
          and not exists (select 1 from platform_throttles t where t.platform = channels.type and t.not_before > now())
        order by expires_at asc, id asc
        limit $5`,
      [tenantId, until, after?.expiresAt ?? null, after?.id ?? null, limit],
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
