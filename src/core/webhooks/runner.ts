import { randomUUID } from "node:crypto";
import type { KeyRing } from "../crypto";
import type { Logger } from "../logger";
import type { ClaimedDelivery, WebhookRepository } from "../store/webhooks";
import { resolveWithDns } from "./address";
import { createWebhookAgents, sendWebhook, type WebhookAgents } from "./send";
import { decryptSecret, signedHeaders } from "./signing";
import { retryDelayMs, type WebhookSettings } from "./settings";

const EXPIRING_SENTENCE =
  "This channel's token cannot be refreshed (no refresh token, or the platform would not extend it) and expires soon: reconnect the channel before it does.";
const DISABLED_SENTENCE = "Every delivery to this endpoint failed for 3 days, so Refresca disabled it. Fix the receiver, then enable it again.";
const PURGE_EVERY_MS = 60 * 60_000;

/**
 * A worker's share of webhooks: the episode scanner (reads channel state every few seconds and writes one event per
 * episode, with its deliveries, into PostgreSQL) and the dispatcher (claims due deliveries in SQL, at most N in flight
 * per endpoint across workers, signs and sends them, writes each outcome). Nothing lives only in memory or in Redis:
 * a worker killed mid-delivery leaves a lease that runs out, and another worker sends the delivery again.
 */
export class WebhookRunner {
  private scanTimer?: NodeJS.Timeout;
  private dispatchTimer?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private pumping = false;
  private pumpAgain = false;
  private inFlight = new Set<Promise<void>>();
  private stopped = true;
  /** Set by `abandon()`: outcomes of attempts in flight are not written (as if the process had died). */
  private abandoned = false;
  private lastPurge = 0;
  private agents?: WebhookAgents;

  constructor(
    private readonly deps: { repository: WebhookRepository; keyRing: KeyRing; logger: Logger },
    private readonly settings: WebhookSettings,
  ) {}

  get running(): boolean {
    return !this.stopped;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.abandoned = false;
    this.agents = createWebhookAgents();
    void this.scan();
    void this.dispatch();
    this.scanTimer = setInterval(() => void this.scan(), this.settings.scanIntervalMs);
    this.dispatchTimer = setInterval(() => void this.dispatch(), this.settings.dispatchIntervalMs);
    this.scanTimer.unref();
    this.dispatchTimer.unref();
  }

  /** One scan (never two at once in this process): new episodes become events and deliveries. */
  scan(): Promise<void> {
    this.scanning ??= (async () => {
      try {
        const counts = await this.deps.repository.scan({
          failingAfterMs: this.settings.failingAfterMs,
          expiringWithinMs: this.settings.expiringWithinMs,
          expiringSentence: EXPIRING_SENTENCE,
        });
        const found = Object.values(counts).reduce((sum, n) => sum + n, 0);
        if (found > 0) {
          this.deps.logger.info({ events: counts }, "webhook events recorded");
          void this.pump();
        }
        if (Date.now() - this.lastPurge > PURGE_EVERY_MS) {
          this.lastPurge = Date.now();
          const purged = await this.deps.repository.purge(this.settings.retentionDays);
          if (purged.deliveries + purged.events > 0) this.deps.logger.info(purged, "purged the webhook delivery log");
        }
      } catch (error) {
        this.deps.logger.warn({ err: (error as Error).message }, "webhook scan failed; will try again");
      }
    })().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** Takes back deliveries whose attempt was cut off, then claims what is due. */
  private async dispatch(): Promise<void> {
    try {
      const released = await this.deps.repository.releaseExpiredLeases();
      if (released > 0) this.deps.logger.warn({ deliveries: released }, "webhook deliveries cut off mid-attempt are due again");
    } catch (error) {
      this.deps.logger.warn({ err: (error as Error).message }, "could not release expired webhook leases");
    }
    await this.pump();
  }

  /** Claims due deliveries while there is room in this process; each finished attempt calls it again. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        if (this.stopped) return;
        const room = this.settings.maxInFlight - this.inFlight.size;
        if (room <= 0) return;
        const claimed = await this.deps.repository.claim({
          claimId: randomUUID(),
          limit: room,
          maxPerEndpoint: this.settings.maxInFlightPerEndpoint,
          leaseMs: this.settings.leaseMs,
        });
        for (const delivery of claimed) this.track(this.attempt(delivery));
        if (claimed.length === room) this.pumpAgain = true;
      } while (this.pumpAgain);
    } catch (error) {
      this.deps.logger.warn({ err: (error as Error).message }, "could not claim webhook deliveries; will try again");
    } finally {
      this.pumping = false;
    }
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => {
      this.inFlight.delete(work);
      if (!this.stopped) void this.pump();
    });
  }

  /** Signs and sends one delivery, then writes its outcome (only while this attempt still owns its claim). */
  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const { repository, keyRing, logger } = this.deps;
    const log = { deliveryId: delivery.id, eventId: delivery.eventId, endpointId: delivery.endpointId, tenantId: delivery.tenantId, attempt: delivery.attempts };
    try {
      let outcome;
      try {
        const secret = decryptSecret(keyRing, delivery.tenantId, delivery.endpointId, delivery.secret);
        const body = JSON.stringify({ type: delivery.type, timestamp: new Date(delivery.eventCreatedAt).toISOString(), data: delivery.data });
        outcome = await sendWebhook(delivery.url, body, signedHeaders(secret, delivery.eventId, new Date(), body), {
          timeoutMs: this.settings.timeoutMs,
          allowPrivate: this.settings.allowPrivate,
          resolve: this.settings.resolve ?? resolveWithDns,
          agents: this.agents!,
        });
      } catch (error) {
        // The secret could not be decrypted (a key missing from the ring): a failed attempt, never a crash.
        outcome = { ok: false, durationMs: 0, responseBody: "", error: `Could not sign: ${(error as Error).message}` };
      }
      if (this.abandoned) return;
      if (outcome.ok) {
        await repository.succeeded(delivery, outcome);
        logger.debug({ ...log, status: outcome.status, durationMs: outcome.durationMs }, "webhook delivered");
        return;
      }
      const result = await repository.failed(delivery, outcome, {
        retryInMs: retryDelayMs(this.settings, delivery.attempts),
        maxAttempts: this.settings.maxAttempts,
        disableAfterMs: this.settings.disableAfterMs,
        disabledReason: DISABLED_SENTENCE,
      });
      logger.warn({ ...log, status: outcome.status, error: outcome.error, state: result.state }, "webhook delivery attempt failed");
      if (result.disabled) logger.warn({ endpointId: delivery.endpointId, tenantId: delivery.tenantId }, "webhook endpoint disabled: failing for days");
    } catch (error) {
      // The outcome could not be written: the lease runs out and the delivery is attempted again.
      logger.warn({ ...log, err: (error as Error).message }, "could not record a webhook delivery's outcome");
    }
  }

  /** Stops claiming, lets attempts in flight finish (each within its deadline) and write their outcomes. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.scanTimer);
    clearInterval(this.dispatchTimer);
    await this.scanning;
    await Promise.all(this.inFlight);
    this.agents?.["http:"].destroy();
    this.agents?.["https:"].destroy();
  }

  /**
   * Stops at once without writing the outcome of attempts in flight, their connections cut: what a `kill -9` leaves
   * behind (for tests of recovery).
   */
  async abandon(): Promise<void> {
    this.abandoned = true;
    this.stopped = true;
    clearInterval(this.scanTimer);
    clearInterval(this.dispatchTimer);
    this.agents?.["http:"].destroy();
    this.agents?.["https:"].destroy();
    await this.scanning;
  }
}
