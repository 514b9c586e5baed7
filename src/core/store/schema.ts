import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

// Tables are unqualified on purpose: each Refresca installation (and each test) lives in its own PostgreSQL
// schema, chosen through the connection's search_path, so the same migrations serve all of them.

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const tenants = pgTable(
  "tenants",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    /** SHA-256 (hex) of the tenant's dashboard API key; the key itself is shown once and never stored. */
    apiKeyHash: text("api_key_hash"),
    /** Non-secret id of the current key: sessions carry it, so issuing a new key ends the old key's sessions. */
    apiKeyId: text("api_key_id"),
    apiKeyCreatedAt: timestamptz("api_key_created_at"),
  },
  (t) => [uniqueIndex("tenants_api_key_hash_idx").on(t.apiKeyHash)],
);

export const channels = pgTable(
  "channels",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    type: text("type").notNull(),
    displayName: text("display_name").notNull(),
    localName: text("local_name").notNull(),
    status: text("status").notNull().default("active"),
    meta: jsonb("meta").$type<Record<string, unknown>>().notNull().default({}),
    /** Encrypted envelope of the access and refresh tokens (see src/core/crypto). */
    credentials: text("credentials").notNull(),
    /** Which key encrypted `credentials`, so key rotation finds what is left to re-encrypt with an index. */
    keyId: text("key_id").notNull(),
    expiresAt: timestamptz("expires_at"),
    refreshTokenExpiresAt: timestamptz("refresh_token_expires_at"),
    hasRefreshToken: boolean("has_refresh_token").notNull(),
    /** Compare-and-set guard: every write of the row bumps it. */
    version: integer("version").notNull().default(1),
    /** Last successful refresh. */
    lastRefreshedAt: timestamptz("last_refreshed_at"),
    /** Last refresh attempt, whatever its outcome: how a waiting caller sees that someone refreshed for it. */
    lastAttemptAt: timestamptz("last_attempt_at"),
    lastOutcome: text("last_outcome"),
    lastErrorCode: text("last_error_code"),
    lastError: text("last_error"),
    failureCount: integer("failure_count").notNull().default(0),
    /** Set while a refresh of a rotating platform is in flight: found set by a later attempt, the rotation may be lost. */
    refreshAttemptId: text("refresh_attempt_id"),
    /** Non-secret facts from the platform's last answer (TikTok open_id and scope, token_type): handed out with the token. */
    platformDetails: jsonb("platform_details").$type<Record<string, string>>().notNull().default({}),
    refreshStartedAt: timestamptz("refresh_started_at"),
    /**
     * The plan: when this channel's next refresh is due. Every outcome writes it in the same statement (null: nothing
     * to do until someone reconnects the channel, or its token never expires). A worker's scheduler that queues the
     * refresh moves it one lease ahead, so a queued job that is lost comes due again.
     */
    nextRefreshAt: timestamptz("next_refresh_at"),
    /** The platform asked not to be called for this channel before this instant (Retry-After). */
    notBefore: timestamptz("not_before"),
    /** Since when every refresh of this channel has failed; null once one succeeds. */
    failingSince: timestamptz("failing_since"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    updatedAt: timestamptz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index("channels_tenant_expires_idx").on(t.tenantId, t.expiresAt),
    // The schedulers' claim reads the channels due soonest; channels without a plan are not in it.
    index("channels_next_refresh_idx").on(t.nextRefreshAt).where(sql`next_refresh_at is not null`),
    // The health check's other half: active, expiring channels without a plan (normally none, so the index is empty).
    index("channels_unplanned_idx")
      .on(t.expiresAt)
      .where(sql`next_refresh_at is null and status = 'active' and expires_at is not null and has_refresh_token`),
    // The dashboard's channel list sorted by name, or by platform (then name): read in order, no sort.
    index("channels_tenant_name_idx").on(t.tenantId, t.displayName, t.id),
    index("channels_tenant_type_name_idx").on(t.tenantId, t.type, t.displayName, t.id),
    index("channels_key_id_idx").on(t.keyId),
  ],
);

export const refreshEvents = pgTable(
  "refresh_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    tenantId: text("tenant_id").notNull(),
    channelId: text("channel_id").notNull(),
    jobId: text("job_id"),
    trigger: text("trigger").notNull(),
    attempt: integer("attempt").notNull().default(1),
    outcome: text("outcome").notNull(),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    httpStatus: integer("http_status"),
    durationMs: integer("duration_ms").notNull(),
    oldExpiresAt: timestamptz("old_expires_at"),
    newExpiresAt: timestamptz("new_expires_at"),
    createdAt: timestamptz("created_at").notNull().default(sql`now()`),
  },
  (t) => [
    index("refresh_events_tenant_created_idx").on(t.tenantId, t.createdAt),
    index("refresh_events_channel_idx").on(t.tenantId, t.channelId, t.createdAt),
  ],
);

export type ChannelRow = typeof channels.$inferSelect;

/**
 * A platform app's "not before": when a platform throttles the whole app (Meta's application request limit), no
 * channel of any platform sharing that app is called before this instant, by any worker. One row per platform.
 */
export const platformThrottles = pgTable("platform_throttles", {
  platform: text("platform").primaryKey(),
  notBefore: timestamptz("not_before").notNull(),
  updatedAt: timestamptz("updated_at").notNull().defaultNow(),
});
export type RefreshEventRow = typeof refreshEvents.$inferSelect;
export type NewRefreshEvent = typeof refreshEvents.$inferInsert;

/** The recurring refresh of each tenant: the source of truth from which workers re-create the queue's schedulers. */
export const refreshSchedules = pgTable("refresh_schedules", {
  tenantId: text("tenant_id").primaryKey(),
  intervalMinutes: integer("interval_minutes").notNull(),
  windowMinutes: integer("window_minutes").notNull(),
  createdAt: timestamptz("created_at").notNull().defaultNow(),
  updatedAt: timestamptz("updated_at").notNull().defaultNow(),
});

export type RefreshScheduleRow = typeof refreshSchedules.$inferSelect;

/**
 * Keys of the REST API: one tenant's or (tenant_id null) every tenant's, with scopes. Only the SHA-256 of a key is
 * stored (see access/api-keys.ts on why a fast hash suits a 256-bit key).
 */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    /** null: the key may act for every tenant. */
    tenantId: text("tenant_id"),
    scopes: text("scopes").array().notNull(),
    keyHash: text("key_hash").notNull(),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    /** Written in batches, at most once a minute per key: a request never waits for it. */
    lastUsedAt: timestamptz("last_used_at"),
    revokedAt: timestamptz("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_key_hash_idx").on(t.keyHash), index("api_keys_tenant_idx").on(t.tenantId, t.createdAt)],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;

/**
 * The audit of token reads, aggregated per reader (an API key id, or "library"), channel and minute: a read adds to
 * an in-memory count that is written in batches, so recording never slows the read.
 */
export const tokenReads = pgTable(
  "token_reads",
  {
    tenantId: text("tenant_id").notNull(),
    channelId: text("channel_id").notNull(),
    reader: text("reader").notNull(),
    minute: timestamptz("minute").notNull(),
    reads: integer("reads").notNull(),
    /** How many of those reads refreshed the token first. */
    refreshed: integer("refreshed").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.channelId, t.reader, t.minute] }),
    index("token_reads_tenant_minute_idx").on(t.tenantId, t.minute),
  ],
);

export type TokenReadRow = typeof tokenReads.$inferSelect;

/**
 * Webhook endpoints: several per tenant, each with an event filter. The signing secret is stored encrypted with the
 * credentials' key ring, bound to the tenant and `webhook:<id>`.
 */
export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    url: text("url").notNull(),
    /** Event types it receives; empty: every type but the opt-in `channel.refreshed`. */
    events: text("events").array().notNull(),
    enabled: boolean("enabled").notNull().default(true),
    /** Encrypted `whsec_…` envelope (never shown again after creation). */
    secret: text("secret").notNull(),
    keyId: text("key_id").notNull(),
    /** Since when every delivery attempt to it has failed; null after a success. */
    failingSince: timestamptz("failing_since"),
    /** Why Refresca disabled it (failing for days); null when enabled or disabled by a person. */
    disabledReason: text("disabled_reason"),
    disabledAt: timestamptz("disabled_at"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    updatedAt: timestamptz("updated_at").notNull().defaultNow(),
  },
  (t) => [index("webhook_endpoints_tenant_idx").on(t.tenantId, t.createdAt)],
);

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;

/**
 * The outbox of webhook events: one row per episode (a channel flagged, failing, expiring, recovered), written by the
 * workers' episode scanner. The unique key makes the scan idempotent across workers; `closed_at` ends an episode
 * (needs_reauth, refresh_failing) once its `channel.recovered` is written.
 */
export const webhookEvents = pgTable(
  "webhook_events",
  {
    /** `msg_…`: the `webhook-id` of every delivery and retry of this event. */
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    channelId: text("channel_id"),
    type: text("type").notNull(),
    episodeKey: text("episode_key").notNull(),
    /** The payload's `data`; never a token. */
    data: jsonb("data").$type<Record<string, unknown>>().notNull(),
    closedAt: timestamptz("closed_at"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("webhook_events_episode_idx").on(t.tenantId, t.channelId, t.type, t.episodeKey),
    // The scanner's "open episodes": few rows, read every few seconds.
    index("webhook_events_open_idx").on(t.tenantId, t.channelId).where(sql`closed_at is null`),
    index("webhook_events_created_idx").on(t.createdAt),
  ],
);

export type WebhookEventRow = typeof webhookEvents.$inferSelect;

/** One event to one endpoint: its state, attempts and the last answer (the delivery log, kept 7 days). */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    tenantId: text("tenant_id").notNull(),
    /** pending (due at next_attempt_at), sending (leased until lease_until), succeeded, failed. */
    state: text("state").notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamptz("next_attempt_at").notNull().defaultNow(),
    leaseUntil: timestamptz("lease_until"),
    /** The claim of the attempt in flight: only its owner writes the outcome. */
    claimId: text("claim_id"),
    lastStatus: integer("last_status"),
    durationMs: integer("duration_ms"),
    /** The first 1 kB of the receiver's answer. */
    responseBody: text("response_body"),
    error: text("error"),
    deliveredAt: timestamptz("delivered_at"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    updatedAt: timestamptz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event_endpoint_idx").on(t.eventId, t.endpointId),
    // The dispatcher's claim: due deliveries of one endpoint, oldest first.
    index("webhook_deliveries_due_idx").on(t.endpointId, t.nextAttemptAt).where(sql`state = 'pending'`),
    // In flight per endpoint, and leases that expired (a worker died mid-delivery).
    index("webhook_deliveries_sending_idx").on(t.endpointId, t.leaseUntil).where(sql`state = 'sending'`),
    index("webhook_deliveries_log_idx").on(t.endpointId, t.createdAt),
  ],
);

export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

/** Positions of the scanner's incremental reads (the opt-in `channel.refreshed` reads `refresh_events` after one). */
export const webhookCursors = pgTable("webhook_cursors", {
  name: text("name").primaryKey(),
  position: bigint("position", { mode: "number" }).notNull(),
});
