import type pg from "pg";

/** A channel a scheduler claimed: queue its refresh to run at `runAt`, for the plan of this `version`. */
export interface ClaimedPlan {
  tenantId: string;
  id: string;
  version: number;
  runAt: Date;
  /** The plan the claim wrote (one lease ahead): what releasing the claim compares against. */
  leasedUntil: Date;
}

/** An active channel whose token expires without a refresh planned in time (the health check's finds). */
export interface UnplannedChannel {
  tenantId: string;
  id: string;
  type: string;
  expiresAt: Date;
  nextRefreshAt: Date | null;
}

/**
 * Claims the channels due within `$1` ms, soonest first, at most `$2`, skipping rows another scheduler is claiming
 * (SKIP LOCKED), and moves each one's plan one lease (`$3` ms) past its due time: the refresh is queued now, and if
 * its job is lost the channel comes due again. A channel whose platform app is throttled past the window waits.
 * Due time: the plan, or the platform's "not before" when that is later.
 */
const CLAIM_DUE = `
with due as (
  select c.tenant_id, c.id, c.version, greatest(c.next_refresh_at, c.not_before, t.not_before) as run_at
    from channels c left join platform_throttles t on t.platform = c.type
   where c.next_refresh_at <= now() + $1 * interval '1 millisecond'
     and c.status = 'active'
     and (t.not_before is null or t.not_before <= now() + $1 * interval '1 millisecond')
   order by c.next_refresh_at
   limit $2
   for update of c skip locked
)
update channels c
   set next_refresh_at = date_trunc('milliseconds', greatest(due.run_at, now()) + $3 * interval '1 millisecond')
  from due
 where c.tenant_id = due.tenant_id and c.id = due.id
returning c.tenant_id as "tenantId", c.id, c.version, due.run_at as "runAt", c.next_refresh_at as "leasedUntil"`;

/** Gives claims back (their jobs could not be queued): each plan returns to its due time, unless written since. */
const RELEASE = `
update channels c
   set next_refresh_at = r.run_at
  from unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[]) as r(tenant_id, id, version, run_at, leased)
 where c.tenant_id = r.tenant_id and c.id = r.id and c.version = r.version and c.next_refresh_at = r.leased`;

// The invariant: an active channel whose token expires, and that can be refreshed, has a plan that is not late. Two
// halves, each read from its own index: no plan at all (channels_unplanned_idx), and a plan more than $1 ms late.
const UNPLANNED = `
select tenant_id, id, type, expires_at, next_refresh_at from channels
 where next_refresh_at is null and status = 'active' and expires_at is not null and has_refresh_token
union all
select tenant_id, id, type, expires_at, next_refresh_at from channels
 where next_refresh_at < now() - $1 * interval '1 millisecond'
   and status = 'active' and expires_at is not null and has_refresh_token`;

/** The plan's side of scheduling: the schedulers' claim, and the health check of the invariant. */
export class PlanRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** Claims the channels due within `aheadMs` (see CLAIM_DUE). */
  async claimDue(aheadMs: number, leaseMs: number, limit: number): Promise<ClaimedPlan[]> {
    const { rows } = await this.pool.query<ClaimedPlan>({ name: "refresca_plan_claim", text: CLAIM_DUE, values: [aheadMs, limit, leaseMs] });
    return rows;
  }

  /** Gives claims back so that the next claim takes them at once (their jobs could not be queued). */
  async release(claims: readonly ClaimedPlan[]): Promise<void> {
    if (claims.length === 0) return;
    await this.pool.query(RELEASE, [
      claims.map((c) => c.tenantId),
      claims.map((c) => c.id),
      claims.map((c) => c.version),
      claims.map((c) => c.runAt),
      claims.map((c) => c.leasedUntil),
    ]);
  }

  /** How many channels break the invariant: active, expiring, refreshable, and no plan or one more than `graceMs` late. */
  async countUnplanned(graceMs: number): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(`select count(*)::int as n from (${UNPLANNED}) as late`, [graceMs]);
    return rows[0]!.n;
  }

  /** The first `limit` of those channels, soonest expiry first. */
  async unplanned(graceMs: number, limit: number): Promise<UnplannedChannel[]> {
    const { rows } = await this.pool.query<UnplannedChannel>(
      `select tenant_id as "tenantId", id, type, expires_at as "expiresAt", next_refresh_at as "nextRefreshAt"
         from (${UNPLANNED}) as late
        order by expires_at asc limit $2`,
      [graceMs, limit],
    );
    return rows;
  }
}
