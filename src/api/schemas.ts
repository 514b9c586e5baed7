import { z } from "@hono/zod-openapi";
import { channelRefInput, listChannelsInput } from "../core/channels";
import { ERROR_MESSAGES } from "../core/errors";
import { getChannelsNeedingTokenRefreshInput, refreshMultipleChannelTokensInput } from "../core/operations";
import { scheduleChannelTokenRefreshInput, scheduleRecurringTokenRefreshInput } from "../core/queue/operations";
import { PLATFORMS } from "../core/types";
import { WEBHOOK_EVENT_TYPES } from "../core/webhooks";
import { addWebhookInput, updateWebhookInput, webhookDeliveriesInput } from "../core/webhooks/operations";
import { channelInputSchema, channelTypeSchema, idSchema } from "../core/validation";

// Request schemas are the operations' own: path ids are taken off the body, and query strings are turned into the
// numbers the operations expect before the same bounds check them.

/** A whole number given in a query string; an empty or missing value leaves the operation's default. */
const queryNumber = <S extends z.ZodType>(schema: S) =>
  z.preprocess((value) => (value === undefined || value === "" ? undefined : Number(value)), schema);

const tenantIdParam = idSchema.openapi({ param: { name: "tenantId", in: "path" }, example: "tenant_456" });
const channelIdParam = idSchema.openapi({ param: { name: "channelId", in: "path" }, example: "channel_123" });

export const tenantPath = z.object({ tenantId: tenantIdParam });
export const channelPath = z.object({ tenantId: tenantIdParam, channelId: channelIdParam });
// Keeps the two schemas tied: a change to the operation's ids shows here as a type error.
channelPath satisfies z.ZodType<z.infer<typeof channelRefInput>>;

export const tokenQuery = z.object({
  minValidityMinutes: queryNumber(z.number().int("must be a whole number").min(0).max(1440).optional()).openapi({
    param: { name: "minValidityMinutes", in: "query" },
    type: "integer",
    minimum: 0,
    maximum: 1440,
    description: "Refresh first when the token expires within this many minutes (0–1440, default 5).",
    example: 5,
  }),
});
export const listQuery = z.object({
  limit: queryNumber(listChannelsInput.shape.limit.unwrap().optional()).openapi({
    param: { name: "limit", in: "query" },
    type: "integer",
    minimum: 1,
    maximum: 1000,
    description: "How many channels (default 100).",
  }),
  offset: queryNumber(listChannelsInput.shape.offset.unwrap().optional()).openapi({
    param: { name: "offset", in: "query" },
    type: "integer",
    minimum: 0,
    description: "How many channels to skip (default 0).",
  }),
});
export const needingRefreshQuery = z.object({
  refreshBeforeMinutes: queryNumber(
    getChannelsNeedingTokenRefreshInput.shape.refreshBeforeMinutes.unwrap().optional(),
  ).openapi({ param: { name: "refreshBeforeMinutes", in: "query" }, type: "integer", minimum: 0, maximum: 525_600, description: "The window in minutes (default 60)." }),
});

/**
 * The channel body: `type` is a string whose description lists the instance's types (so the document, and the typed
 * client generated from it, stay valid for presets and configured providers), checked against those types here and
 * again by the operation.
 */
export function channelBodyFor(types: readonly string[], more = "") {
  return channelInputSchema
    .omit({ tenantId: true, id: true })
    .extend({
      type: channelTypeSchema(types).openapi({
        type: "string",
        description: `The channel's platform: one of ${types.join(", ")} (built-in platforms and configured OAuth 2.0 providers)${more}.`,
        example: types[0] ?? "instagram",
      }),
    })
    .openapi("ChannelInput");
}
export const channelBody = channelBodyFor(PLATFORMS, ", or the id of a preset or provider the server configures");
export const refreshManyBody = refreshMultipleChannelTokensInput.omit({ tenantId: true }).openapi("RefreshManyInput");
export const scheduleBody = scheduleChannelTokenRefreshInput.omit({ tenantId: true, channelId: true }).openapi("ScheduleInput");
export const recurringBody = scheduleRecurringTokenRefreshInput.omit({ tenantId: true }).openapi("RecurringInput");

// Answers.
const iso = z.string().openapi({ format: "date-time" });
const success = z.literal(true);

export const failureAnswer = z
  .object({
    success: z.literal(false),
    error: z.string().openapi({ description: "A human sentence; never a secret." }),
    code: z.enum(Object.keys(ERROR_MESSAGES) as [keyof typeof ERROR_MESSAGES]),
    retryAfterSeconds: z.number().int().optional(),
  })
  .openapi("Failure");

export const channelView = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    // A string, not the built-ins' enum: a channel of a configured OAuth 2.0 provider has that provider's id.
    type: z.string().openapi({ description: `The platform: ${PLATFORMS.join(", ")}, a preset's or a configured provider's id.`, example: "tiktok" }),
    displayName: z.string(),
    localName: z.string(),
    status: z.enum(["active", "needs_reauth", "disabled"]),
    meta: z.record(z.string(), z.unknown()),
    expiresAt: iso.nullable(),
    refreshTokenExpiresAt: iso.nullable(),
    hasRefreshToken: z.boolean(),
    lastRefreshedAt: iso.nullable(),
    lastAttemptAt: iso.nullable(),
    lastOutcome: z.string().nullable(),
    lastErrorCode: z.string().nullable(),
    failureCount: z.number().int(),
    failingSince: iso.nullable().openapi({ description: "Since when every refresh of the channel has failed; null while the last one succeeded." }),
    nextRefreshAt: iso.nullable().openapi({
      description: "When the channel's next refresh is planned; null: none (it needs reconnecting, never expires, or cannot be refreshed).",
    }),
    createdAt: iso,
    updatedAt: iso,
  })
  .openapi("Channel");

export const tokenAnswer = z
  .object({
    success,
    channelId: z.string(),
    channelType: z.string(),
    accessToken: z.string().openapi({ description: "The live token. Only this route ever answers one." }),
    expiresAt: iso.nullable(),
    refreshed: z.boolean().openapi({ description: "The token was renewed while serving this read." }),
    meta: z.record(z.string(), z.unknown()).openapi({ description: "Non-secret: the channel's meta with the platform's ids (TikTok open_id, scope)." }),
    warning: z
      .object({ code: z.string(), error: z.string() })
      .optional()
      .openapi({ description: "The refresh failed but the stored token still works." }),
  })
  .openapi("AccessToken");

const expirationInfo = z
  .object({
    channelId: z.string(),
    channelType: z.string(),
    displayName: z.string(),
    localName: z.string(),
    expiresAt: iso,
    minutesUntilExpiration: z.number().int(),
    hasRefreshToken: z.boolean(),
  })
  .openapi("TokenExpirationInfo");

export const channelAnswer = z.object({ success, channel: channelView });
export const channelListAnswer = z.object({ success, channels: z.array(channelView) });
export const removedAnswer = z.object({ success, removed: z.literal(true) });
export const refreshAnswer = z.object({ success, channelId: z.string(), newExpiresAt: iso.nullable(), refreshedAt: iso });
export const refreshManyAnswer = z.object({
  success,
  processed: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  results: z.array(
    z.object({
      channelId: z.string(),
      success: z.boolean(),
      newExpiresAt: iso.optional(),
      error: z.string().optional(),
      code: z.string().optional(),
      retryAfterSeconds: z.number().int().optional().openapi({ description: "With RATE_LIMITED: when this channel may be tried again." }),
    }),
  ),
});
export const needingRefreshAnswer = z.object({ success, channels: z.array(expirationInfo) });
export const scheduleAnswer = z.object({ success, jobId: z.string(), scheduledFor: iso });
export const recurringAnswer = z.object({
  success,
  jobId: z.string(),
  intervalMinutes: z.number().int(),
  windowMinutes: z.number().int(),
  nextRunAt: iso,
});
export const cancelledAnswer = z.object({ success, cancelled: z.boolean() });
export const jobsAnswer = z.object({
  success,
  jobsActive: z.number().int(),
  jobsWaiting: z.number().int(),
  jobsDelayed: z.number().int(),
  jobsCompleted: z.number().int(),
  jobsFailed: z.number().int(),
});
export const statisticsAnswer = z.object({
  success,
  statistics: z.object({
    totalChannels: z.number().int(),
    channelsNeedingRefresh: z.number().int(),
    channelsWithRefreshToken: z.number().int(),
    urgentChannels: z.number().int(),
    expiredChannels: z.number().int(),
    needsReauth: z.number().int(),
  }),
});

// Webhooks.
const endpointIdParam = z.string().openapi({ param: { name: "endpointId", in: "path" }, example: "we_0123456789abcdef" });
const deliveryIdParam = z.string().openapi({ param: { name: "deliveryId", in: "path" }, example: "whd_0123456789abcdef0123456789abcdef" });
export const webhookPath = z.object({ tenantId: tenantIdParam, endpointId: endpointIdParam });
export const webhookDeliveryPath = z.object({ tenantId: tenantIdParam, endpointId: endpointIdParam, deliveryId: deliveryIdParam });
export const webhookBody = addWebhookInput.omit({ tenantId: true }).openapi("WebhookInput");
export const webhookPatchBody = updateWebhookInput.omit({ tenantId: true, endpointId: true }).openapi("WebhookPatch");
export const deliveriesQuery = z.object({
  limit: queryNumber(webhookDeliveriesInput.shape.limit.unwrap().optional()).openapi({
    param: { name: "limit", in: "query" },
    type: "integer",
    minimum: 1,
    maximum: 1000,
    description: "How many deliveries, newest first (default 100).",
  }),
});

export const webhookView = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).openapi({ description: "Empty: every event type but the opt-in channel.refreshed." }),
    enabled: z.boolean(),
    disabledReason: z.string().nullable().openapi({ description: "Why Refresca disabled it (its deliveries failed for days)." }),
    disabledAt: iso.nullable(),
    failingSince: iso.nullable(),
    createdAt: iso,
    updatedAt: iso,
  })
  .openapi("WebhookEndpoint");
const deliveryView = z
  .object({
    id: z.string(),
    eventId: z.string().openapi({ description: "The webhook-id header of every attempt." }),
    type: z.string(),
    state: z.enum(["pending", "sending", "succeeded", "failed"]),
    attempts: z.number().int(),
    nextAttemptAt: iso.nullable(),
    lastStatus: z.number().int().nullable(),
    durationMs: z.number().int().nullable(),
    response: z.string().nullable().openapi({ description: "The first 1 kB of the receiver's last answer." }),
    error: z.string().nullable(),
    deliveredAt: iso.nullable(),
    createdAt: iso,
  })
  .openapi("WebhookDelivery");
export const webhookAnswer = z.object({ success, endpoint: webhookView });
export const webhookCreatedAnswer = z.object({
  success,
  endpoint: webhookView,
  secret: z.string().openapi({ description: "The signing secret (whsec_…), shown in this answer only." }),
});
export const webhookListAnswer = z.object({ success, endpoints: z.array(webhookView) });
export const webhookDeliveriesAnswer = z.object({ success, deliveries: z.array(deliveryView) });
export const webhookTestAnswer = z.object({ success, eventId: z.string(), deliveryId: z.string() });
export const redeliverAnswer = z.object({ success, deliveryId: z.string(), nextAttemptAt: iso });
