import type { LookupAddress } from "node:dns";

/** The event types an endpoint may ask for. `channel.refreshed` is opt-in: an empty filter does not include it. */
export const WEBHOOK_EVENT_TYPES = [
  "channel.needs_reauth",
  "channel.recovered",
  "channel.refresh_failing",
  "channel.expiring",
  "channel.refreshed",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Resolves a host name to every address it has (dns.lookup with `all: true`); injectable for tests. */
export type ResolveHost = (hostname: string) => Promise<LookupAddress[]>;

/** How webhooks are found, sent and retried. */
export interface WebhookSettings {
  /** Allow `http` and private, loopback and link-local addresses (tests, the demo). @defaultValue false */
  allowPrivate: boolean;
  /** The first gap between attempts; each later one doubles, with ±20 % jitter. @defaultValue 30000 */
  retryBaseMs: number;
  /** Attempts of one delivery before it is `failed` (12 from 30 s: about 17 hours of retries). @defaultValue 12 */
  maxAttempts: number;
  /** A channel failing for longer than this gets `channel.refresh_failing`. @defaultValue 1800000 (30 minutes) */
  failingAfterMs: number;
  /** A token that cannot be refreshed gets `channel.expiring` this long before it expires. @defaultValue 604800000 (7 days) */
  expiringWithinMs: number;
  /** Deliveries in flight to one endpoint at once, across every worker. @defaultValue 4 */
  maxInFlightPerEndpoint: number;
  /** Deliveries one worker process sends at once. @defaultValue 32 */
  maxInFlight: number;
  /** How often each worker looks for new episodes. @defaultValue 5000 */
  scanIntervalMs: number;
  /** How often each worker looks for due deliveries besides when one finishes. @defaultValue 1000 */
  dispatchIntervalMs: number;
  /** Deadline of one delivery attempt. @defaultValue 10000 */
  timeoutMs: number;
  /** A claimed attempt not finished by then (its worker died) is due again. @defaultValue 30000 */
  leaseMs: number;
  /** An endpoint whose deliveries failed continuously this long is disabled. @defaultValue 259200000 (3 days) */
  disableAfterMs: number;
  /** Days the delivery log is kept. @defaultValue 7 */
  retentionDays: number;
  /** How host names are resolved before the address check. @defaultValue dns.lookup with all addresses */
  resolve?: ResolveHost;
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = {
  allowPrivate: false,
  retryBaseMs: 30_000,
  maxAttempts: 12,
  failingAfterMs: 30 * 60_000,
  expiringWithinMs: 7 * 86_400_000,
  maxInFlightPerEndpoint: 4,
  maxInFlight: 32,
  scanIntervalMs: 5000,
  dispatchIntervalMs: 1000,
  timeoutMs: 10_000,
  leaseMs: 30_000,
  disableAfterMs: 3 * 86_400_000,
  retentionDays: 7,
};

/** The gap before attempt `attempts + 1`: the base doubled per attempt made, ±20 % jitter. */
export function retryDelayMs(settings: Pick<WebhookSettings, "retryBaseMs">, attempts: number, random = Math.random): number {
  const base = settings.retryBaseMs * 2 ** Math.max(0, attempts - 1);
  return Math.round(base * (0.8 + 0.4 * random()));
}
