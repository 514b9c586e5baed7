import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import { hashApiKey } from "../core/access/api-keys";
import type { ApiPrincipal } from "../core/access/scopes";
import { failure, type ErrorCode, type Failure } from "../core/errors";
import type { Logger } from "../core/logger";
import { failureFor } from "../core/operation";
import { describeIssues } from "../core/validation";
import type { Refresca } from "../refresca";
import { mountReference } from "./reference";
import { API_ROUTES, type ApiRoute } from "./routes";
import { channelBodyFor, failureAnswer } from "./schemas";
import { PLATFORMS } from "../core/types";
import { failureHeaders, statusOf } from "./status";

export interface ApiOptions {
  refresca: Refresca;
  /** The holder of a bearer key, or null for an unknown or revoked one. */
  authenticate(key: string): Promise<ApiPrincipal | null>;
  /** Takes one request from a key's budget (shared by every web process); `bucket` names the key. */
  rateLimit(bucket: string): Promise<{ allowed: boolean; retryAfterSeconds: number }>;
  logger: Logger;
  /** The largest request body accepted. @defaultValue 65536 */
  bodyLimitBytes?: number;
  /** The version shown in the OpenAPI document. @defaultValue "1.0.0" */
  version?: string;
}

type ApiEnv = { Variables: { principal: ApiPrincipal } };

export const API_BASE = "/api/v1";
const NO_STORE = { "cache-control": "no-store" };

function reply(c: Context, result: object | Failure, successStatus = 200): Response {
  if ("success" in result && result.success === false) {
    const failed = result as Failure;
    return c.json(failed, statusOf(failed.code) as 400, { ...NO_STORE, ...failureHeaders(failed) });
  }
  return c.json(result, successStatus as 200, NO_STORE);
}

const refuse = (c: Context, code: ErrorCode, error?: string, extra: Partial<Failure> = {}) => reply(c, failure(code, error, extra));

/**
 * The REST API v1 (DESIGN.md "REST API v1") as a Hono app: every route of `API_ROUTES` behind one chain — bearer key
 * → rate limit → scope → tenant → input validated by the operations' own zod schemas → the library operation — with
 * the same answers as the library and a fitting HTTP status. The OpenAPI 3.1 document is generated from those
 * schemas, and JSON errors answer everything else (unknown route, wrong method, bad JSON, too large a body).
 */
export function createApi(options: ApiOptions): OpenAPIHono<ApiEnv> {
  const { refresca, logger } = options;
  const app = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return refuse(c, "INVALID_INPUT", `Invalid input: ${describeIssues(result.error)}.`);
    },
  });
  app.use("*", methodNotAllowed({ app, onMethodNotAllowed: (c, methods) => withAllow(refuse(c, "METHOD_NOT_ALLOWED"), methods) }));

  let limiterDown = 0;
  /** The key's budget; a Redis outage must not stop token reads (their truth is in PostgreSQL): then it lets through. */
  const takeBudget = async (bucket: string) => {
    try {
      return await options.rateLimit(bucket);
    } catch (error) {
      if (Date.now() - limiterDown > 60_000) logger.warn({ err: (error as Error).message }, "API rate limit unavailable: requests pass unlimited");
      limiterDown = Date.now();
      return { allowed: true, retryAfterSeconds: 0 };
    }
  };

  const authenticate: MiddlewareHandler<ApiEnv> = async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const key = /^Bearer +(\S+)$/i.exec(header)?.[1];
    // The key's lookup and its rate limit go out together: the bucket is named by the key's hash (one key, one
    // bucket, as by its id), so neither waits for the other.
    const [principal, budget] = key
      ? await Promise.all([options.authenticate(key), takeBudget(hashApiKey(key).slice(0, 32))])
      : [null, undefined];
    if (!principal) {
      const res = refuse(c, "UNAUTHORIZED", key ? "The API key is not valid (unknown or revoked)." : "Send an API key: Authorization: Bearer <key>.");
      res.headers.set("www-authenticate", 'Bearer realm="refresca"');
      return res;
    }
    if (!budget!.allowed) {
      return refuse(c, "RATE_LIMITED", "Too many requests with this API key.", { retryAfterSeconds: budget!.retryAfterSeconds });
    }
    c.set("principal", principal);
    await next();
  };

  const authorize = (route: ApiRoute): MiddlewareHandler<ApiEnv> => async (c, next) => {
    const principal = c.get("principal");
    if (!principal.scopes.includes(route.scope)) {
      return refuse(c, "FORBIDDEN", `This API key lacks the scope ${route.scope}.`);
    }
    // Checked on the raw path value, before validation or any read: a foreign tenant learns nothing.
    if (principal.tenantId !== null && c.req.param("tenantId") !== principal.tenantId) {
      return refuse(c, "FORBIDDEN", "This API key may not act for this tenant.");
    }
    await next();
  };

  const limit = bodyLimit({
    maxSize: options.bodyLimitBytes ?? 65_536,
    onError: (c) => refuse(c, "PAYLOAD_TOO_LARGE", `The request body is larger than ${options.bodyLimitBytes ?? 65_536} bytes.`),
  });

  // Configured providers widen the channel type: the upsert body then takes their ids too.
  // (The document built without an instance, src/api/document.ts, describes the built-ins.)
  const configuredTypes = (refresca?.platformIds ?? PLATFORMS).some((type) => !(PLATFORMS as readonly string[]).includes(type));
  const routes = configuredTypes
    ? API_ROUTES.map((route) => (route.operationId === "upsertChannel" ? { ...route, body: channelBodyFor(refresca.platformIds) } : route))
    : API_ROUTES;
  for (const route of routes) {
    const definition = createRoute({
      method: route.method,
      path: `${API_BASE}${route.path}`,
      operationId: route.operationId,
      summary: route.summary,
      security: [{ bearerAuth: [] }],
      // Only routes that take a body get the size check: reading the body's stream makes the adapter build a full
      // Request, which the token route (no body, the hot path) must not pay for.
      middleware: route.body ? ([authenticate, authorize(route), limit] as const) : ([authenticate, authorize(route)] as const),
      request: {
        params: route.params,
        ...(route.query && { query: route.query }),
        ...(route.body && {
          body: { content: { "application/json": { schema: route.body } }, required: route.operationId !== "refreshMultipleChannelTokens" },
        }),
      },
      responses: {
        200: { description: "Success", content: { "application/json": { schema: route.answer } } },
        default: { description: "A failure: its code tells which (see the status table in the README)", content: { "application/json": { schema: failureAnswer } } },
      },
    });
    app.openapi(definition, async (c) => {
      const valid = (target: string) => (c.req.valid as (target: string) => Record<string, unknown>).call(c.req, target);
      const result = await route.run(refresca, {
        params: valid("param") as Record<string, string>,
        query: (route.query ? valid("query") : {}) as Record<string, number | undefined>,
        body: (route.body ? valid("json") : {}) ?? {},
        keyId: c.get("principal").keyId,
      });
      return reply(c, result) as never;
    });
  }

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "An API key made with `refresca api-keys create` or on the dashboard's API keys page.",
  });
  app.doc31(`${API_BASE}/openapi.json`, documentConfig(options.version));
  mountReference(app, `${API_BASE}/openapi.json`);

  app.notFound((c) => refuse(c, "NOT_FOUND", `No route ${c.req.method} ${c.req.path}.`));
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      // Hono's own refusals: a body that is not JSON (400).
      return refuse(c, error.status === 400 ? "INVALID_INPUT" : "INTERNAL", error.status === 400 ? `Invalid input: ${error.message}.` : undefined);
    }
    return reply(c, failureFor(error, `api ${c.req.method} ${c.req.routePath}`, logger));
  });
  return app;
}

/** The OpenAPI document's header (the routes and components come from the app). */
export function documentConfig(version = "1.0.0") {
  return {
    openapi: "3.1.0",
    info: {
      title: "Refresca REST API",
      version,
      description: "Keeps the OAuth tokens of social channels alive and hands the live token to your product.",
    },
  };
}

function withAllow(res: Response, methods: string[]): Response {
  res.headers.set("allow", methods.join(", "));
  return res;
}
