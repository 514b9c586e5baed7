import type pg from "pg";

/** An endpoint as stored, with its encrypted secret (never leaves the core). */
export interface WebhookEndpointRecord {
  id: string;
  tenantId: string;
  url: string;
  events: string[];
  enabled: boolean;
  secret: string;
  keyId: string;
  failingSince: Date | null;
  disabledReason: string | null;
  disabledAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One line of an endpoint's delivery log. */
export interface WebhookDeliveryRecord {
  id: string;
  eventId: string;
  endpointId: string;
  type: string;
  state: "pending" | "sending" | "succeeded" | "failed";
  attempts: number;
  nextAttemptAt: Date;
  lastStatus: number | null;
  durationMs: number | null;
  responseBody: string | null;
  error: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/** A delivery claimed for one attempt: everything needed to sign and send it. */
export interface ClaimedDelivery {
  id: string;
  claimId: string;
  attempts: number;
  tenantId: string;
  endpointId: string;
  url: string;
  secret: string;
  eventId: string;
  type: string;
  data: Record<string, unknown>;
  eventCreatedAt: Date;
}

/** What one attempt ended with. */
export interface AttemptOutcome {
  status?: number;
  durationMs: number;
  responseBody: string;
  error?: string;
}

export interface ScanSettings {
  /** A channel failing for longer than this gets `channel.refresh_failing`. */
  failingAfterMs: number;
  /** A token that cannot be refreshed gets `channel.expiring` this long before it expires. */
  expiringWithinMs: number;
  /** The sentence of `channel.expiring`. */
  expiringSentence: string;
}

const ENDPOINT_COLUMNS = `id, tenant_id as "tenantId", url, events, enabled, secret, key_id as "keyId", failing_since as "failingSince",
  disabled_reason as "disabledReason", disabled_at as "disabledAt", created_at as "createdAt", updated_at as "updatedAt"`;

const NEW_EVENT_ID = `'msg_' || replace(gen_random_uuid()::text, '-', '')`;
const NEW_DELIVERY_ID = `'whd_' || replace(gen_random_uuid()::text, '-', '')`;
const ISO = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/** An instant as an episode key: exact to the microsecond and independent of the session's time zone. */
const KEY = (column: string) => `((extract(epoch from ${column}) * 1000000)::bigint)::text`;
/** The payload's `data`, read from the channel row `c`: what an email to the customer needs, never a token. */
const channelData = (code: string, error: string, expiresAt = "c.expires_at") => `jsonb_strip_nulls(jsonb_build_object(
  'tenantId', c.tenant_id, 'channelId', c.id, 'channelType', c.type, 'displayName', c.display_name,
  'localName', c.local_name, 'status', c.status, 'code', ${code}, 'error', ${error}, 'expiresAt', ${ISO(expiresAt)}))`;
/** Tenants with somewhere to send to: no event is recorded for the others. */
const HAS_ENDPOINT = (tenant: string) => `exists (select 1 from webhook_endpoints ep where ep.tenant_id = ${tenant} and ep.enabled)`;
const OPEN = (type: string) => `not exists (select 1 from webhook_events e where e.tenant_id = c.tenant_id and e.channel_id = c.id
  and e.type = '${type}' and e.closed_at is null)`;
/**
 * Appended to a statement whose CTE `ins` returned the new events (id, tenant_id, type): one delivery per enabled
 * endpoint of the tenant that wants the type (an empty filter takes every type but the opt-in channel.refreshed), in the
 * same statement, so an event never exists without its deliveries.
 */
const FAN_OUT = `, fan as (
  insert into webhook_deliveries (id, event_id, endpoint_id, tenant_id)
  select ${NEW_DELIVERY_ID}, ins.id, ep.id, ins.tenant_id
    from ins join webhook_endpoints ep on ep.tenant_id = ins.tenant_id and ep.enabled
     and (ins.type = any(ep.events) or (cardinality(ep.events) = 0 and ins.type <> 'channel.refreshed'))
  returning 1)
select (select count(*) from ins)::int as events, (select count(*) from fan)::int as deliveries`;

/** Webhook endpoints, the event outbox and the deliveries (tables `webhook_*`), in SQL. */
export class WebhookRepository {
  constructor(private readonly pool: pg.Pool) {}

  async createEndpoint(row: Pick<WebhookEndpointRecord, "id" | "tenantId" | "url" | "events" | "enabled" | "secret" | "keyId">): Promise<WebhookEndpointRecord> {
    const { rows } = await this.pool.query(
      `insert into webhook_endpoints (id, tenant_id, url, events, enabled, secret, key_id) values ($1, $2, $3, $4, $5, $6, $7)
       returning ${ENDPOINT_COLUMNS}`,
      [row.id, row.tenantId, row.url, row.events, row.enabled, row.secret, row.keyId],
    );
    return rows[0];
  }

  async listEndpoints(tenantId: string): Promise<WebhookEndpointRecord[]> {
    const { rows } = await this.pool.query(
      `select ${ENDPOINT_COLUMNS} from webhook_endpoints where tenant_id = $1 order by created_at, id`,
      [tenantId],
    );
    return rows;
  }

  /** One endpoint; with `tenantId`, only that tenant's (another tenant's is "not found"). */
  async getEndpoint(id: string, tenantId?: string): Promise<WebhookEndpointRecord | null> {
    const { rows } = await this.pool.query(
      `select ${ENDPOINT_COLUMNS} from webhook_endpoints where id = $1 and ($2::text is null or tenant_id = $2)`,
      [id, tenantId ?? null],
    );
    return rows[0] ?? null;
  }

  /** Changes url, events or enabled; enabling clears the failure record and the notice of an automatic disable. */
  async updateEndpoint(
    tenantId: string,
    id: string,
    patch: { url?: string; events?: string[]; enabled?: boolean },
  ): Promise<WebhookEndpointRecord | null> {
    const { rows } = await this.pool.query(
      `update webhook_endpoints set
         url = coalesce($3, url),
         events = coalesce($4, events),
         enabled = coalesce($5, enabled),
         failing_since = case when $5 is true and not enabled then null else failing_since end,
         disabled_reason = case when $5 is not null then null else disabled_reason end,
         disabled_at = case when $5 is false and enabled then now() when $5 is true then null else disabled_at end,
         updated_at = now()
       where tenant_id = $1 and id = $2
       returning ${ENDPOINT_COLUMNS}`,
      [tenantId, id, patch.url ?? null, patch.events ?? null, patch.enabled ?? null],
    );
    return rows[0] ?? null;
  }

  /** Removes the endpoint and its delivery log. */
  async removeEndpoint(tenantId: string, id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `with gone as (delete from webhook_endpoints where tenant_id = $1 and id = $2 returning id)
       , logs as (delete from webhook_deliveries where endpoint_id in (select id from gone))
       select 1 from gone`,
      [tenantId, id],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Every endpoint's encrypted secret with its key id: what key rotation reads. */
  async secretsNotUnder(keyId: string, limit: number): Promise<Array<{ id: string; tenantId: string; secret: string }>> {
    const { rows } = await this.pool.query(
      `select id, tenant_id as "tenantId", secret from webhook_endpoints where key_id <> $1 order by id limit $2`,
      [keyId, limit],
    );
    return rows;
  }

  /** Stores a re-encrypted secret, only while the row still holds the one it replaces. */
  async replaceSecret(id: string, previous: string, secret: string, keyId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`update webhook_endpoints set secret = $3, key_id = $4 where id = $1 and secret = $2`, [
      id,
      previous,
      secret,
      keyId,
    ]);
    return (rowCount ?? 0) > 0;
  }

  /** The endpoint's deliveries of the last `days` days, newest first. */
  async deliveries(endpointId: string, options: { days: number; limit: number }): Promise<WebhookDeliveryRecord[]> {
    const { rows } = await this.pool.query(
      `select d.id, d.event_id as "eventId", d.endpoint_id as "endpointId", ev.type, d.state, d.attempts,
              d.next_attempt_at as "nextAttemptAt", d.last_status as "lastStatus", d.duration_ms as "durationMs",
              d.response_body as "responseBody", d.error, d.delivered_at as "deliveredAt", d.created_at as "createdAt"
         from webhook_deliveries d join webhook_events ev on ev.id = d.event_id
        where d.endpoint_id = $1 and d.created_at > now() - $2 * interval '1 day'
        order by d.created_at desc, d.id desc limit $3`,
      [endpointId, options.days, options.limit],
    );
    return rows;
  }

  /** A new attempt of a finished (or waiting) delivery now, keeping its event and so its webhook-id. */
  async redeliver(endpointId: string, deliveryId: string): Promise<{ id: string; nextAttemptAt: Date } | null> {
    const { rows } = await this.pool.query(
      `update webhook_deliveries set state = 'pending', next_attempt_at = now(), updated_at = now()
        where id = $1 and endpoint_id = $2 and state <> 'sending'
        returning id, next_attempt_at as "nextAttemptAt"`,
      [deliveryId, endpointId],
    );
    return rows[0] ?? null;
  }

  /** A `webhook.test` event for one endpoint, and its delivery. */
  async insertTestEvent(endpoint: { id: string; tenantId: string }, data: Record<string, unknown>): Promise<{ eventId: string; deliveryId: string }> {
    const { rows } = await this.pool.query(
      `with ins as (
         insert into webhook_events (id, tenant_id, channel_id, type, episode_key, data, closed_at)
         values (${NEW_EVENT_ID}, $1, null, 'webhook.test', gen_random_uuid()::text, $3, now()) returning id, tenant_id)
       insert into webhook_deliveries (id, event_id, endpoint_id, tenant_id)
       select ${NEW_DELIVERY_ID}, ins.id, $2, ins.tenant_id from ins
       returning event_id as "eventId", id as "deliveryId"`,
      [endpoint.tenantId, endpoint.id, JSON.stringify(data)],
    );
    return rows[0];
  }

  // --- The episode scanner: one statement per event type, each idempotent (unique episode key, "no open episode").

  /** Writes the events of episodes that began since the last scan, with their deliveries; answers counts per type. */
  async scan(settings: ScanSettings): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const run = async (type: string, text: string, values: unknown[] = []) => {
      const { rows } = await this.pool.query(text, values);
      counts[type] = rows[0]?.events ?? 0;
    };
    await run(
      "channel.needs_reauth",
      `with ins as (
         insert into webhook_events (id, tenant_id, channel_id, type, episode_key, data)
         select ${NEW_EVENT_ID}, c.tenant_id, c.id, 'channel.needs_reauth', ${KEY("coalesce(c.last_attempt_at, c.updated_at)")},
                ${channelData("c.last_error_code", "c.last_error")}
           from channels c
          where c.status = 'needs_reauth' and ${OPEN("channel.needs_reauth")} and ${HAS_ENDPOINT("c.tenant_id")}
         on conflict do nothing
         returning id, tenant_id, type)${FAN_OUT}`,
    );
    await run(
      "channel.refresh_failing",
      `with ins as (
         insert into webhook_events (id, tenant_id, channel_id, type, episode_key, data)
         select ${NEW_EVENT_ID}, c.tenant_id, c.id, 'channel.refresh_failing', ${KEY("c.failing_since")},
                ${channelData("c.last_error_code", "c.last_error")} || jsonb_build_object('failingSince', ${ISO("c.failing_since")})
           from channels c
          where c.failing_since is not null and c.failing_since <= now() - $1 * interval '1 millisecond' and c.status = 'active'
            and ${OPEN("channel.refresh_failing")} and ${HAS_ENDPOINT("c.tenant_id")}
         on conflict do nothing
         returning id, tenant_id, type)${FAN_OUT}`,
      [settings.failingAfterMs],
    );
    await run(
      "channel.recovered",
      // Closing the open episodes takes their rows' locks: a second scanner waits, then finds them closed.
      `with closing as (
         update webhook_events e set closed_at = now()
           from channels c
          where e.closed_at is null and e.type in ('channel.needs_reauth', 'channel.refresh_failing')
            and c.tenant_id = e.tenant_id and c.id = e.channel_id and c.status = 'active' and c.failing_since is null
         returning e.id, e.tenant_id, e.channel_id),
       opened as (select tenant_id, channel_id, min(id) as first_id from closing group by tenant_id, channel_id),
       ins as (
         insert into webhook_events (id, tenant_id, channel_id, type, episode_key, data, closed_at)
         select ${NEW_EVENT_ID}, c.tenant_id, c.id, 'channel.recovered', o.first_id, ${channelData("null", "null")}, now()
           from opened o join channels c on c.tenant_id = o.tenant_id and c.id = o.channel_id
         on conflict do nothing
         returning id, tenant_id, type)${FAN_OUT}`,
    );
    await run(
      "channel.expiring",
      `with ins as (
         insert into webhook_events (id, tenant_id, channel_id, type, episode_key, data, closed_at)
         select ${NEW_EVENT_ID}, c.tenant_id, c.id, 'channel.expiring', ${KEY("c.expires_at")},
                ${channelData("case when c.has_refresh_token then c.last_error_code else 'NO_REFRESH_TOKEN' end", "$2::text")}, now()
           from channels c
          where c.expires_at is not null and (not has_refresh_token or last_error_code = 'NOT_EXTENDED')
            and c.expires_at > now() and c.expires_at <= now() + $1 * interval '1 millisecond' and c.status <> 'disabled'
            and ${HAS_ENDPOINT("c.tenant_id")}
         on conflict do nothing
         returning id, tenant_id, type)${FAN_OUT}`,
      [settings.expiringWithinMs, settings.expiringSentence],
    );
    counts["channel.refreshed"] = await this.scanRefreshed();
    // Episodes of channels that were removed end without an event.
    await this.pool.query(
      `update webhook_events e set closed_at = now() where e.closed_at is null
          and not exists (select 1 from channels c where c.tenant_id = e.tenant_id and c.id = e.channel_id)`,
    );
    return counts;
  }

  /** The opt-in `channel.refreshed`: successful refreshes after the stored cursor, read by one scanner at a time. */
  private async scanRefreshed(batch = 5000): Promise<number> {
    const client = await this.pool.connect();
    try {
      await client.query("begin");
      // Created at the current end: subscribers hear about refreshes from now on, not the history.
      await client.query(
        `insert into webhook_cursors (name, position) select 'refreshed', coalesce(max(id), 0) from refresh_events on conflict do nothing`,
      );
      const cursor = await client.query(`select position from webhook_cursors where name = 'refreshed' for update skip locked`);
      if (cursor.rows.length === 0) {
        await client.query("rollback");
        return 0;
      }
      const { rows } = await client.query(
        `with batch as (select * from refresh_events where id > $1 order by id limit $2),
         ins as (
           insert into webhook_events (id, tenant_id, channel_id, type, episode_key, data, closed_at)
           select ${NEW_EVENT_ID}, c.tenant_id, c.id, 'channel.refreshed', r.id::text,
                  ${channelData("null", "null", "r.new_expires_at")}, now()
             from batch r join channels c on c.tenant_id = r.tenant_id and c.id = r.channel_id
            where r.outcome = 'success'
              and exists (select 1 from webhook_endpoints ep where ep.tenant_id = r.tenant_id and ep.enabled
                           and 'channel.refreshed' = any(ep.events))
           on conflict do nothing
           returning id, tenant_id, type),
         moved as (update webhook_cursors set position = (select max(id) from batch) where name = 'refreshed' and exists (select 1 from batch))
         ${FAN_OUT}`,
        [cursor.rows[0].position, batch],
      );
      await client.query("commit");
      return rows[0]?.events ?? 0;
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  // --- The dispatcher.

  /** Deliveries whose attempt's lease ran out (their worker died or was cut off) are due again now. */
  async releaseExpiredLeases(): Promise<number> {
    const { rowCount } = await this.pool.query(
      `update webhook_deliveries set state = 'pending', next_attempt_at = now(), lease_until = null, claim_id = null,
              error = 'The attempt was cut off (its worker stopped); retried.', updated_at = now()
        where state = 'sending' and lease_until <= now()`,
    );
    return rowCount ?? 0;
  }

  /**
   * Claims up to `limit` due deliveries for one attempt each, never more than `maxPerEndpoint` in flight per endpoint
   * across every worker: the endpoints' rows are locked while their in-flight deliveries are counted, so two workers
   * never both fill the same room. Each claim holds a lease; one that runs out makes the delivery due again.
   */
  async claim(options: { claimId: string; limit: number; maxPerEndpoint: number; leaseMs: number }): Promise<ClaimedDelivery[]> {
    const client = await this.pool.connect();
    try {
      await client.query("begin");
      const endpoints = await client.query(
        `select ep.id from webhook_endpoints ep
          where ep.enabled and exists (select 1 from webhook_deliveries d where d.endpoint_id = ep.id and d.state = 'pending'
                                         and d.next_attempt_at <= now())
          limit 200 for update skip locked`,
      );
      if (endpoints.rows.length === 0) {
        await client.query("commit");
        return [];
      }
      const { rows } = await client.query(
        `with room as (
           select e.id, $2::int - (select count(*) from webhook_deliveries s where s.endpoint_id = e.id and s.state = 'sending')::int as free
             from unnest($1::text[]) as e(id)),
         picked as (
           select p.id from room cross join lateral (
             select d.id from webhook_deliveries d
              where d.endpoint_id = room.id and d.state = 'pending' and d.next_attempt_at <= now()
              order by d.next_attempt_at limit greatest(room.free, 0)) p
           limit $5)
         update webhook_deliveries d set state = 'sending', attempts = d.attempts + 1, claim_id = $4,
                lease_until = now() + $3 * interval '1 millisecond', updated_at = now()
           from picked, webhook_events ev, webhook_endpoints ep
          where d.id = picked.id and ev.id = d.event_id and ep.id = d.endpoint_id
         returning d.id, d.claim_id as "claimId", d.attempts, d.tenant_id as "tenantId", d.endpoint_id as "endpointId", ep.url,
                   ep.secret, ev.id as "eventId", ev.type, ev.data, ev.created_at as "eventCreatedAt"`,
        [endpoints.rows.map((row) => row.id), options.maxPerEndpoint, options.leaseMs, options.claimId, options.limit],
      );
      await client.query("commit");
      return rows;
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** A 2xx: the delivery is done, and its endpoint is no longer failing. Only the claim's owner writes. */
  async succeeded(delivery: Pick<ClaimedDelivery, "id" | "claimId" | "endpointId">, outcome: AttemptOutcome): Promise<void> {
    const { rowCount } = await this.pool.query(
      `update webhook_deliveries set state = 'succeeded', lease_until = null, claim_id = null, last_status = $3,
              duration_ms = $4, response_body = $5, error = null, delivered_at = now(), updated_at = now()
        where id = $1 and claim_id = $2 and state = 'sending'`,
      [delivery.id, delivery.claimId, outcome.status ?? null, outcome.durationMs, outcome.responseBody],
    );
    if ((rowCount ?? 0) > 0) {
      await this.pool.query(`update webhook_endpoints set failing_since = null where id = $1 and failing_since is not null`, [delivery.endpointId]);
    }
  }

  /**
   * A failed attempt: due again after `retryInMs`, or `failed` once `maxAttempts` were made. The endpoint is marked
   * failing since its first failure in a row and disabled, with a notice, once that is older than `disableAfterMs`.
   * Answers the delivery's state and whether this disabled the endpoint.
   */
  async failed(
    delivery: Pick<ClaimedDelivery, "id" | "claimId" | "endpointId">,
    outcome: AttemptOutcome,
    options: { retryInMs: number; maxAttempts: number; disableAfterMs: number; disabledReason: string },
  ): Promise<{ state: string | null; disabled: boolean }> {
    const { rows } = await this.pool.query(
      `update webhook_deliveries set state = case when attempts >= $7 then 'failed' else 'pending' end,
              next_attempt_at = case when attempts >= $7 then next_attempt_at else now() + $6 * interval '1 millisecond' end,
              lease_until = null, claim_id = null, last_status = $3, duration_ms = $4, response_body = $5, error = $8, updated_at = now()
        where id = $1 and claim_id = $2 and state = 'sending'
        returning state`,
      [delivery.id, delivery.claimId, outcome.status ?? null, outcome.durationMs, outcome.responseBody, options.retryInMs, options.maxAttempts, outcome.error ?? null],
    );
    if (rows.length === 0) return { state: null, disabled: false };
    const endpoint = await this.pool.query(
      `update webhook_endpoints set failing_since = coalesce(failing_since, now()),
              enabled = case when failing_since <= now() - $2 * interval '1 millisecond' then false else enabled end,
              disabled_reason = case when enabled and failing_since <= now() - $2 * interval '1 millisecond' then $3 else disabled_reason end,
              disabled_at = case when enabled and failing_since <= now() - $2 * interval '1 millisecond' then now() else disabled_at end
        where id = $1
        returning (disabled_at = now() and not enabled) as disabled`,
      [delivery.endpointId, options.disableAfterMs, options.disabledReason],
    );
    return { state: rows[0].state, disabled: endpoint.rows[0]?.disabled === true };
  }

  /** Drops the delivery log older than `days` days, and the events left without deliveries and open episodes. */
  async purge(days: number): Promise<{ deliveries: number; events: number }> {
    const deliveries = await this.pool.query(
      `delete from webhook_deliveries where state in ('succeeded', 'failed') and updated_at < now() - $1 * interval '1 day'`,
      [days],
    );
    const events = await this.pool.query(
      `delete from webhook_events e where e.created_at < now() - $1 * interval '1 day' and e.closed_at is not null
          and not exists (select 1 from webhook_deliveries d where d.event_id = e.id)`,
      [days],
    );
    return { deliveries: deliveries.rowCount ?? 0, events: events.rowCount ?? 0 };
  }
}
