import { ApiKeyRepository } from "./api-keys";
import { ChannelTokenQuery } from "./channel-tokens";
import { ChannelRepository, ExpiryQueries } from "./channels";
import { connect, runMigrations, type Connection, type DatabaseOptions } from "./database";
import { EventRepository } from "./events";
import { ChannelListing } from "./listing";
import { PlanRepository } from "./plans";
import { ScheduleRepository } from "./schedules";
import { TenantRepository } from "./tenants";
import { TokenReadRepository } from "./token-reads";
import { WebhookRepository } from "./webhooks";

export type { ChannelRow, RefreshEventRow, RefreshScheduleRow } from "./schema";
export type { ChannelWrite, RefreshWrite, FailureWrite, RefreshEvent, ExpiringChannelRow, AttemptFence, ClaimedRow } from "./channels";
export type { ClaimedPlan, UnplannedChannel } from "./plans";
export type { DatabaseOptions } from "./database";
export type { ChannelTokenRow } from "./channel-tokens";
export type { TenantSummary } from "./tenants";
export type { TokenReadCount, TokenReadQuery } from "./token-reads";
export type { ApiKeyRecord, ApiKeyWrite } from "./api-keys";
export type { WebhookEndpointRecord, WebhookDeliveryRecord, ClaimedDelivery } from "./webhooks";
export { CHANNEL_SORTS, type ChannelSort, type ChannelListQuery, type ChannelListRow, type ExpiryHorizon } from "./listing";

/** Everything Refresca keeps in PostgreSQL, behind one handle. */
export interface Store {
  connection: Connection;
  channels: ChannelRepository;
  tenants: TenantRepository;
  expiry: ExpiryQueries;
  /** The dashboard's paged channel list and expiry horizon. */
  listing: ChannelListing;
  events: EventRepository;
  schedules: ScheduleRepository;
  /** Each channel's plan: the schedulers' claim of due channels, and the health check. */
  plans: PlanRepository;
  /** The REST API's keys. */
  apiKeys: ApiKeyRepository;
  /** The audit of token reads, counted per reader, channel and minute. */
  tokenReads: TokenReadRepository;
  /** The narrow read behind every token handed out. */
  channelTokens: ChannelTokenQuery;
  /** Webhook endpoints, the event outbox and its deliveries. */
  webhooks: WebhookRepository;
  close(): Promise<void>;
}

/** Connects, brings the schema up to date (unless told not to) and returns the repositories. */
export async function openStore(options: DatabaseOptions & { migrate?: boolean }): Promise<Store> {
  const connection = connect(options);
  try {
    if (options.migrate !== false) await runMigrations(connection);
  } catch (error) {
    await connection.close();
    throw error;
  }
  return {
    connection,
    channels: new ChannelRepository(connection.db, connection.pool),
    tenants: new TenantRepository(connection.db),
    expiry: new ExpiryQueries(connection.pool),
    listing: new ChannelListing(connection.pool),
    events: new EventRepository(connection.db),
    schedules: new ScheduleRepository(connection.db),
    plans: new PlanRepository(connection.pool),
    channelTokens: new ChannelTokenQuery(connection.db),
    tokenReads: new TokenReadRepository(connection.pool),
    apiKeys: new ApiKeyRepository(connection.db),
    webhooks: new WebhookRepository(connection.pool),
    close: () => connection.close(),
  };
}

export { runMigrations, connect };
