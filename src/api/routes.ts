import type { z } from "@hono/zod-openapi";
import type { ApiScope } from "../core/access/scopes";
import type { Failure } from "../core/errors";
import type { Refresca } from "../refresca";
import * as s from "./schemas";

/** What a route's handler receives: the validated path, query and body, and the caller's API key id. */
export interface RouteInput {
  params: Record<string, string>;
  query: Record<string, number | undefined>;
  body: Record<string, unknown>;
  keyId: string;
}

/** One operation of REST API v1: its HTTP shape, the scope it needs, and the library operation it calls. */
export interface ApiRoute {
  operationId: string;
  method: "get" | "put" | "post" | "patch" | "delete";
  /** OpenAPI path under /api/v1, `{tenantId}` style. */
  path: string;
  scope: ApiScope;
  summary: string;
  params: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  answer: z.ZodType;
  /** Answers carrying a token are never stored by a cache. */
  secret?: boolean;
  run(refresca: Refresca, input: RouteInput): Promise<object | Failure>;
}

const ids = (params: Record<string, string>) => ({ tenantId: params.tenantId!, channelId: params.channelId! });
/** Drops query values the caller left out, so the operation's defaults apply. */
const given = (query: Record<string, number | undefined>) =>
  Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined));

const tenant = "/tenants/{tenantId}";
const webhook = `${tenant}/webhooks/{endpointId}`;
const endpointRef = (params: Record<string, string>) => ({ tenantId: params.tenantId!, endpointId: params.endpointId! });
const channel = `${tenant}/channels/{channelId}`;

/** Every route of REST API v1 (the table in DESIGN.md), in the order the reference lists them. */
export const API_ROUTES: readonly ApiRoute[] = [
  {
    operationId: "getAccessToken",
    method: "get",
    path: `${channel}/token`,
    scope: "tokens:read",
    summary: "The channel's live access token, refreshed first when it expires within minValidityMinutes.",
    params: s.channelPath,
    query: s.tokenQuery,
    answer: s.tokenAnswer,
    secret: true,
    run: (r, { params, query, keyId }) => r.getAccessToken({ ...ids(params), ...given(query) }, { reader: keyId }),
  },
  {
    operationId: "upsertChannel",
    method: "put",
    path: channel,
    scope: "channels:write",
    summary: "Creates the channel (and its tenant) or replaces it: a reconnect. Ids come from the path.",
    params: s.channelPath,
    body: s.channelBody,
    answer: s.channelAnswer,
    run: (r, { params, body }) => r.channels.upsert({ ...body, tenantId: params.tenantId!, id: params.channelId! } as never),
  },
  {
    operationId: "getChannel",
    method: "get",
    path: channel,
    scope: "channels:read",
    summary: "One channel, without its tokens.",
    params: s.channelPath,
    answer: s.channelAnswer,
    run: (r, { params }) => r.channels.get(ids(params)),
  },
  {
    operationId: "removeChannel",
    method: "delete",
    path: channel,
    scope: "channels:write",
    summary: "Removes the channel and its planned refreshes.",
    params: s.channelPath,
    answer: s.removedAnswer,
    run: (r, { params }) => r.channels.remove(ids(params)),
  },
  {
    operationId: "listChannels",
    method: "get",
    path: `${tenant}/channels`,
    scope: "channels:read",
    summary: "The tenant's channels in id order, a page at a time, without tokens.",
    params: s.tenantPath,
    query: s.listQuery,
    answer: s.channelListAnswer,
    run: (r, { params, query }) => r.channels.list({ tenantId: params.tenantId!, ...given(query) }),
  },
  {
    operationId: "refreshChannelToken",
    method: "post",
    path: `${channel}/refresh`,
    scope: "refresh",
    summary: "Refreshes one channel now, through its platform's API.",
    params: s.channelPath,
    answer: s.refreshAnswer,
    run: (r, { params }) => r.refreshChannelToken(ids(params)),
  },
  {
    operationId: "refreshMultipleChannelTokens",
    method: "post",
    path: `${tenant}/refresh`,
    scope: "refresh",
    summary: "Refreshes the listed channels, or every channel of the tenant expiring within 60 minutes.",
    params: s.tenantPath,
    body: s.refreshManyBody,
    answer: s.refreshManyAnswer,
    run: (r, { params, body }) => r.refreshMultipleChannelTokens({ ...body, tenantId: params.tenantId! }),
  },
  {
    operationId: "getChannelsNeedingTokenRefresh",
    method: "get",
    path: `${tenant}/channels-needing-refresh`,
    scope: "channels:read",
    summary: "Channels expiring within refreshBeforeMinutes (expired ones included), soonest first.",
    params: s.tenantPath,
    query: s.needingRefreshQuery,
    answer: s.needingRefreshAnswer,
    run: (r, { params, query }) => r.getChannelsNeedingTokenRefresh({ tenantId: params.tenantId!, ...given(query) }),
  },
  {
    operationId: "scheduleChannelTokenRefresh",
    method: "post",
    path: `${channel}/scheduled-refreshes`,
    scope: "refresh",
    summary: "Queues one refresh of the channel after delayMinutes.",
    params: s.channelPath,
    body: s.scheduleBody,
    answer: s.scheduleAnswer,
    run: (r, { params, body }) => r.scheduleChannelTokenRefresh({ ...(body as { delayMinutes: number }), ...ids(params) }),
  },
  {
    operationId: "scheduleRecurringTokenRefresh",
    method: "put",
    path: `${tenant}/recurring-refresh`,
    scope: "refresh",
    summary: "Sets the tenant's recurring refresh every intervalMinutes, replacing any previous one.",
    params: s.tenantPath,
    body: s.recurringBody,
    answer: s.recurringAnswer,
    run: (r, { params, body }) =>
      r.scheduleRecurringTokenRefresh({ ...(body as { intervalMinutes: number }), tenantId: params.tenantId! }),
  },
  {
    operationId: "cancelRecurringTokenRefresh",
    method: "delete",
    path: `${tenant}/recurring-refresh`,
    scope: "refresh",
    summary: "Stops the tenant's recurring refresh; cancelled is false when there was none.",
    params: s.tenantPath,
    answer: s.cancelledAnswer,
    run: (r, { params }) => r.cancelRecurringTokenRefresh({ tenantId: params.tenantId! }),
  },
  {
    operationId: "getTokenRefreshJobsStatus",
    method: "get",
    path: `${tenant}/jobs`,
    scope: "channels:read",
    summary: "The tenant's refresh jobs by state.",
    params: s.tenantPath,
    answer: s.jobsAnswer,
    run: (r, { params }) => r.getTokenRefreshJobsStatus({ tenantId: params.tenantId! }),
  },
  {
    operationId: "getRefreshStatistics",
    method: "get",
    path: `${tenant}/statistics`,
    scope: "channels:read",
    summary: "Counts of the tenant's channels by what they need.",
    params: s.tenantPath,
    answer: s.statisticsAnswer,
    run: (r, { params }) => r.getRefreshStatistics({ tenantId: params.tenantId! }),
  },
  {
    operationId: "listWebhooks",
    method: "get",
    path: `${tenant}/webhooks`,
    scope: "webhooks:write",
    summary: "The tenant's webhook endpoints (never their secrets).",
    params: s.tenantPath,
    answer: s.webhookListAnswer,
    run: (r, { params }) => r.webhooks.list({ tenantId: params.tenantId! }),
  },
  {
    operationId: "addWebhook",
    method: "post",
    path: `${tenant}/webhooks`,
    scope: "webhooks:write",
    summary: "Adds a webhook endpoint; the answer holds its signing secret, shown this once.",
    params: s.tenantPath,
    body: s.webhookBody,
    answer: s.webhookCreatedAnswer,
    secret: true,
    run: (r, { params, body }) => r.webhooks.add({ ...(body as { url: string }), tenantId: params.tenantId! }),
  },
  {
    operationId: "getWebhook",
    method: "get",
    path: webhook,
    scope: "webhooks:write",
    summary: "One webhook endpoint.",
    params: s.webhookPath,
    answer: s.webhookAnswer,
    run: (r, { params }) => r.webhooks.get(endpointRef(params)),
  },
  {
    operationId: "updateWebhook",
    method: "patch",
    path: webhook,
    scope: "webhooks:write",
    summary: "Changes a webhook endpoint's url, event filter or enabled; enabling clears an automatic disable.",
    params: s.webhookPath,
    body: s.webhookPatchBody,
    answer: s.webhookAnswer,
    run: (r, { params, body }) => r.webhooks.update({ ...body, ...endpointRef(params) }),
  },
  {
    operationId: "removeWebhook",
    method: "delete",
    path: webhook,
    scope: "webhooks:write",
    summary: "Removes a webhook endpoint and its delivery log.",
    params: s.webhookPath,
    answer: s.removedAnswer,
    run: (r, { params }) => r.webhooks.remove(endpointRef(params)),
  },
  {
    operationId: "listWebhookDeliveries",
    method: "get",
    path: `${webhook}/deliveries`,
    scope: "webhooks:write",
    summary: "The endpoint's deliveries of the last 7 days, newest first: state, attempts, answer code, duration.",
    params: s.webhookPath,
    query: s.deliveriesQuery,
    answer: s.webhookDeliveriesAnswer,
    run: (r, { params, query }) => r.webhooks.deliveries({ ...endpointRef(params), ...given(query) }),
  },
  {
    operationId: "sendWebhookTest",
    method: "post",
    path: `${webhook}/test`,
    scope: "webhooks:write",
    summary: "Sends a webhook.test event to the endpoint now.",
    params: s.webhookPath,
    answer: s.webhookTestAnswer,
    run: (r, { params }) => r.webhooks.test(endpointRef(params)),
  },
  {
    operationId: "redeliverWebhook",
    method: "post",
    path: `${webhook}/deliveries/{deliveryId}/redeliver`,
    scope: "webhooks:write",
    summary: "Attempts a delivery again now, with the same webhook-id.",
    params: s.webhookDeliveryPath,
    answer: s.redeliverAnswer,
    run: (r, { params }) => r.webhooks.redeliver({ ...endpointRef(params), deliveryId: params.deliveryId! }),
  },
];
