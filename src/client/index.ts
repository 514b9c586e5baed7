/**
 * The typed REST client (`refresca/client`): the routes of REST API v1 with the library's names, typed from the
 * OpenAPI document. It depends on `fetch` alone (openapi-fetch, a few kB), so it runs in any Node 20 backend, Bun,
 * Deno or an edge runtime, and never on Refresca's server code.
 */
import createFetchClient, { type Client } from "openapi-fetch";
import type { components, operations, paths } from "./openapi";

export type { components, operations, paths };
export type Failure = components["schemas"]["Failure"];
export type AccessToken = components["schemas"]["AccessToken"];
export type ChannelView = components["schemas"]["Channel"];
export type ChannelInput = components["schemas"]["ChannelInput"];
export type WebhookInput = components["schemas"]["WebhookInput"];
export type WebhookPatch = components["schemas"]["WebhookPatch"];

export interface ClientOptions {
  /** Where Refresca's web process answers, e.g. `https://refresca.internal:3000` (without /api/v1). */
  baseUrl: string;
  /** An API key (`refresca api-keys create`); reading tokens needs the `tokens:read` scope. */
  apiKey: string;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

type Ok<K extends keyof operations> = operations[K]["responses"][200]["content"]["application/json"];
/** What every method answers: the same `{ success: true, … }` / `{ success: false, error, code }` as the library. */
export type Answer<K extends keyof operations> = Ok<K> | Failure;

/** Either body: openapi-fetch puts a 2xx body in `data` and any other in `error`, and both are JSON answers here. */
async function answer<T>(call: Promise<{ data?: unknown; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  const body = data ?? error;
  if (body && typeof body === "object" && "success" in body) return body as T;
  throw new Error(`Refresca answered ${response.status} ${response.statusText} without a JSON answer`);
}

type Ids = { tenantId: string; channelId: string };
type EndpointIds = { tenantId: string; endpointId: string };
const base = "/api/v1/tenants/{tenantId}";
const channel = `${base}/channels/{channelId}` as const;
const webhook = `${base}/webhooks/{endpointId}` as const;

/** A client for one Refresca and one API key. `raw` is the underlying openapi-fetch client, typed by path. */
export function createClient(options: ClientOptions) {
  const raw: Client<paths> = createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    headers: { authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch && { fetch: options.fetch }),
  });
  const path = ({ tenantId, channelId }: Ids) => ({ path: { tenantId, channelId } });
  const tenant = (tenantId: string) => ({ path: { tenantId } });

  return {
    raw,
    /** The channel's live token, refreshed first when it expires within `minValidityMinutes` (default 5). */
    getAccessToken: (input: Ids & { minValidityMinutes?: number }) =>
      answer<Answer<"getAccessToken">>(
        raw.GET(`${channel}/token`, {
          params: { ...path(input), query: input.minValidityMinutes === undefined ? {} : { minValidityMinutes: input.minValidityMinutes } },
        }),
      ),
    /** Creates or reconnects a channel (its tenant is created when new). */
    upsertChannel: ({ tenantId, channelId, ...body }: Ids & ChannelInput) =>
      answer<Answer<"upsertChannel">>(raw.PUT(channel, { params: path({ tenantId, channelId }), body })),
    getChannel: (input: Ids) => answer<Answer<"getChannel">>(raw.GET(channel, { params: path(input) })),
    removeChannel: (input: Ids) => answer<Answer<"removeChannel">>(raw.DELETE(channel, { params: path(input) })),
    listChannels: ({ tenantId, ...query }: { tenantId: string; limit?: number; offset?: number }) =>
      answer<Answer<"listChannels">>(raw.GET(`${base}/channels`, { params: { ...tenant(tenantId), query } })),
    refreshChannelToken: (input: Ids) =>
      answer<Answer<"refreshChannelToken">>(raw.POST(`${channel}/refresh`, { params: path(input) })),
    refreshMultipleChannelTokens: ({ tenantId, ...body }: { tenantId: string; channelIds?: string[] }) =>
      answer<Answer<"refreshMultipleChannelTokens">>(raw.POST(`${base}/refresh`, { params: tenant(tenantId), body })),
    getChannelsNeedingTokenRefresh: ({ tenantId, ...query }: { tenantId: string; refreshBeforeMinutes?: number }) =>
      answer<Answer<"getChannelsNeedingTokenRefresh">>(
        raw.GET(`${base}/channels-needing-refresh`, { params: { ...tenant(tenantId), query } }),
      ),
    scheduleChannelTokenRefresh: ({ delayMinutes, ...ids }: Ids & { delayMinutes: number }) =>
      answer<Answer<"scheduleChannelTokenRefresh">>(
        raw.POST(`${channel}/scheduled-refreshes`, { params: path(ids), body: { delayMinutes } }),
      ),
    scheduleRecurringTokenRefresh: ({ tenantId, intervalMinutes }: { tenantId: string; intervalMinutes: number }) =>
      answer<Answer<"scheduleRecurringTokenRefresh">>(
        raw.PUT(`${base}/recurring-refresh`, { params: tenant(tenantId), body: { intervalMinutes } }),
      ),
    cancelRecurringTokenRefresh: ({ tenantId }: { tenantId: string }) =>
      answer<Answer<"cancelRecurringTokenRefresh">>(raw.DELETE(`${base}/recurring-refresh`, { params: tenant(tenantId) })),
    getTokenRefreshJobsStatus: ({ tenantId }: { tenantId: string }) =>
      answer<Answer<"getTokenRefreshJobsStatus">>(raw.GET(`${base}/jobs`, { params: tenant(tenantId) })),
    getRefreshStatistics: ({ tenantId }: { tenantId: string }) =>
      answer<Answer<"getRefreshStatistics">>(raw.GET(`${base}/statistics`, { params: tenant(tenantId) })),
    /** The tenant's webhook endpoints (needs `webhooks:write`); the signing secret is answered once, by `add`. */
    webhooks: {
      list: ({ tenantId }: { tenantId: string }) => answer<Answer<"listWebhooks">>(raw.GET(`${base}/webhooks`, { params: tenant(tenantId) })),
      add: ({ tenantId, ...body }: { tenantId: string } & WebhookInput) =>
        answer<Answer<"addWebhook">>(raw.POST(`${base}/webhooks`, { params: tenant(tenantId), body })),
      get: ({ tenantId, endpointId }: EndpointIds) =>
        answer<Answer<"getWebhook">>(raw.GET(webhook, { params: { path: { tenantId, endpointId } } })),
      update: ({ tenantId, endpointId, ...body }: EndpointIds & WebhookPatch) =>
        answer<Answer<"updateWebhook">>(raw.PATCH(webhook, { params: { path: { tenantId, endpointId } }, body })),
      remove: ({ tenantId, endpointId }: EndpointIds) =>
        answer<Answer<"removeWebhook">>(raw.DELETE(webhook, { params: { path: { tenantId, endpointId } } })),
      deliveries: ({ tenantId, endpointId, ...query }: EndpointIds & { limit?: number }) =>
        answer<Answer<"listWebhookDeliveries">>(raw.GET(`${webhook}/deliveries`, { params: { path: { tenantId, endpointId }, query } })),
      /** Sends a signed test event to the endpoint now. */
      test: ({ tenantId, endpointId }: EndpointIds) =>
        answer<Answer<"sendWebhookTest">>(raw.POST(`${webhook}/test`, { params: { path: { tenantId, endpointId } } })),
      /** A new attempt of a delivery, with the same `webhook-id`. */
      redeliver: ({ tenantId, endpointId, deliveryId }: EndpointIds & { deliveryId: string }) =>
        answer<Answer<"redeliverWebhook">>(
          raw.POST(`${webhook}/deliveries/{deliveryId}/redeliver`, { params: { path: { tenantId, endpointId, deliveryId } } }),
        ),
    },
  };
}

export type RefrescaClient = ReturnType<typeof createClient>;
