import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { KeyRing } from "../crypto";
import { failure } from "../errors";
import type { Logger } from "../logger";
import { defineOperation } from "../operation";
import type { Store } from "../store";
import type { WebhookDeliveryRecord, WebhookEndpointRecord } from "../store/webhooks";
import { idSchema } from "../validation";
import { urlProblem } from "./address";
import { encryptSecret, newSigningSecret } from "./signing";
import { WEBHOOK_EVENT_TYPES, type WebhookSettings } from "./settings";

/** An endpoint as every answer shows it: never its secret. Times are ISO-8601. */
export interface WebhookEndpointView {
  id: string;
  tenantId: string;
  url: string;
  /** Empty: every event type but the opt-in `channel.refreshed`. */
  events: string[];
  enabled: boolean;
  /** Why Refresca disabled it (its deliveries failed for days); null otherwise. */
  disabledReason: string | null;
  disabledAt: string | null;
  failingSince: string | null;
  createdAt: string;
  updatedAt: string;
}

/** One line of the delivery log. */
export interface WebhookDeliveryView {
  id: string;
  eventId: string;
  type: string;
  state: WebhookDeliveryRecord["state"];
  attempts: number;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  durationMs: number | null;
  /** The first 1 kB of the receiver's last answer. */
  response: string | null;
  error: string | null;
  deliveredAt: string | null;
  createdAt: string;
}

const ENDPOINT_ID = /^we_[0-9a-f]{16}$/;
const DELIVERY_ID = /^whd_[0-9a-f]{32}$/;
const endpointIdSchema = z.string({ error: "must be a string" }).regex(ENDPOINT_ID, "must be a webhook endpoint id (we_ and 16 hex digits)");
const deliveryIdSchema = z.string({ error: "must be a string" }).regex(DELIVERY_ID, "must be a delivery id (whd_ and 32 hex digits)");
const eventsSchema = z
  .array(z.enum(WEBHOOK_EVENT_TYPES, { error: `must be one of ${WEBHOOK_EVENT_TYPES.join(", ")}` }))
  .max(WEBHOOK_EVENT_TYPES.length * 2);
const urlSchema = z.string({ error: "must be a string" }).trim().min(1, "must not be empty").max(2048, "must be at most 2048 characters");

/** The inputs, exported for the REST API's schemas. */
export const addWebhookInput = z.strictObject({ tenantId: idSchema, url: urlSchema, events: eventsSchema.optional(), enabled: z.boolean().optional() });
export const webhookTenantInput = z.strictObject({ tenantId: idSchema });
export const webhookRefInput = z.strictObject({ tenantId: idSchema, endpointId: endpointIdSchema });
export const updateWebhookInput = z.strictObject({
  tenantId: idSchema,
  endpointId: endpointIdSchema,
  url: urlSchema.optional(),
  events: eventsSchema.optional(),
  enabled: z.boolean({ error: "must be true or false" }).optional(),
});
export const webhookDeliveriesInput = z.strictObject({
  tenantId: idSchema,
  endpointId: endpointIdSchema,
  limit: z.number({ error: "must be a number" }).int("must be a whole number").min(1).max(1000).default(100),
});
export const redeliverInput = z.strictObject({ tenantId: idSchema, endpointId: endpointIdSchema, deliveryId: deliveryIdSchema });

const iso = (date: Date | null) => (date ? new Date(date).toISOString() : null);

function toView(row: WebhookEndpointRecord): WebhookEndpointView {
  return {
    id: row.id,
    tenantId: row.tenantId,
    url: row.url,
    events: row.events,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    disabledAt: iso(row.disabledAt),
    failingSince: iso(row.failingSince),
    createdAt: iso(row.createdAt)!,
    updatedAt: iso(row.updatedAt)!,
  };
}

function toDeliveryView(row: WebhookDeliveryRecord): WebhookDeliveryView {
  return {
    id: row.id,
    eventId: row.eventId,
    type: row.type,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.state === "pending" ? iso(row.nextAttemptAt) : null,
    lastStatus: row.lastStatus,
    durationMs: row.durationMs,
    response: row.responseBody,
    error: row.error,
    deliveredAt: iso(row.deliveredAt),
    createdAt: iso(row.createdAt)!,
  };
}

const notFound = () => failure("NOT_FOUND", "No such webhook endpoint for this tenant.");
const badUrl = (problem: string) => failure("INVALID_INPUT", `Invalid input: url ${problem}.`);
/** Sorted and without repeats, so equal filters look equal. */
const normalizeEvents = (events: readonly string[] | undefined) => [...new Set(events ?? [])].sort();

/**
 * Webhook endpoints of a tenant: add (the signing secret is in that answer only), list, update, remove, the delivery
 * log, a test event and redelivery. Another tenant's endpoint is "not found".
 */
export function createWebhookOperations(deps: { store: Store; keyRing: KeyRing; logger: Logger; settings: WebhookSettings }) {
  const { store, keyRing, logger, settings } = deps;
  const repository = store.webhooks;
  const endpointOf = (input: { tenantId: string; endpointId: string }) => repository.getEndpoint(input.endpointId, input.tenantId);

  return {
    /** Adds an endpoint; answers its signing secret (`whsec_…`) this once: only its encryption is stored. */
    add: defineOperation("webhooks.add", addWebhookInput, logger, async (input) => {
      const problem = urlProblem(input.url, settings.allowPrivate);
      if (problem) return badUrl(problem);
      if (!(await store.tenants.exists(input.tenantId))) return failure("NOT_FOUND", "No such tenant.");
      const id = `we_${randomBytes(8).toString("hex")}`;
      const secret = newSigningSecret();
      const row = await repository.createEndpoint({
        id,
        tenantId: input.tenantId,
        url: input.url,
        events: normalizeEvents(input.events),
        enabled: input.enabled ?? true,
        secret: encryptSecret(keyRing, input.tenantId, id, secret),
        keyId: keyRing.activeKeyId,
      });
      logger.info({ tenantId: input.tenantId, endpointId: id }, "webhook endpoint added");
      return { success: true as const, endpoint: toView(row), secret };
    }),

    list: defineOperation("webhooks.list", webhookTenantInput, logger, async (input) => ({
      success: true as const,
      endpoints: (await repository.listEndpoints(input.tenantId)).map(toView),
    })),

    get: defineOperation("webhooks.get", webhookRefInput, logger, async (input) => {
      const row = await endpointOf(input);
      return row ? { success: true as const, endpoint: toView(row) } : notFound();
    }),

    /** Changes the URL, the event filter or enabled; enabling clears a notice of an automatic disable. */
    update: defineOperation("webhooks.update", updateWebhookInput, logger, async (input) => {
      if (input.url !== undefined) {
        const problem = urlProblem(input.url, settings.allowPrivate);
        if (problem) return badUrl(problem);
      }
      const row = await repository.updateEndpoint(input.tenantId, input.endpointId, {
        ...(input.url !== undefined && { url: input.url }),
        ...(input.events !== undefined && { events: normalizeEvents(input.events) }),
        ...(input.enabled !== undefined && { enabled: input.enabled }),
      });
      if (!row) return notFound();
      logger.info({ tenantId: input.tenantId, endpointId: input.endpointId }, "webhook endpoint updated");
      return { success: true as const, endpoint: toView(row) };
    }),

    /** Removes the endpoint and its delivery log. */
    remove: defineOperation("webhooks.remove", webhookRefInput, logger, async (input) => {
      if (!(await repository.removeEndpoint(input.tenantId, input.endpointId))) return notFound();
      logger.info({ tenantId: input.tenantId, endpointId: input.endpointId }, "webhook endpoint removed");
      return { success: true as const, removed: true as const };
    }),

    /** The endpoint's deliveries of the last 7 days (the log's retention), newest first. */
    deliveries: defineOperation("webhooks.deliveries", webhookDeliveriesInput, logger, async (input) => {
      if (!(await endpointOf(input))) return notFound();
      const rows = await repository.deliveries(input.endpointId, { days: settings.retentionDays, limit: input.limit });
      return { success: true as const, deliveries: rows.map(toDeliveryView) };
    }),

    /** Sends a `webhook.test` event to this endpoint now. */
    test: defineOperation("webhooks.test", webhookRefInput, logger, async (input) => {
      const row = await endpointOf(input);
      if (!row) return notFound();
      if (!row.enabled) return failure("INVALID_INPUT", "The endpoint is disabled: enable it first.");
      const made = await repository.insertTestEvent(row, { tenantId: row.tenantId, endpointId: row.id, message: "A test event from Refresca." });
      return { success: true as const, eventId: made.eventId, deliveryId: made.deliveryId };
    }),

    /** A new attempt of a delivery now, with the same webhook-id (receivers may deduplicate on it). */
    redeliver: defineOperation("webhooks.redeliver", redeliverInput, logger, async (input) => {
      if (!(await endpointOf(input))) return notFound();
      const row = await repository.redeliver(input.endpointId, input.deliveryId);
      if (!row) return failure("NOT_FOUND", "No such delivery of this endpoint, or it is being sent right now.");
      return { success: true as const, deliveryId: row.id, nextAttemptAt: iso(row.nextAttemptAt)! };
    }),
  };
}

export type WebhookOperations = ReturnType<typeof createWebhookOperations>;
