import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import type { OAuth2SimControl } from "./oauth2";
import { handleOAuth2Admin } from "./oauth2-admin";
import { SIM_PLATFORMS, type SimPlatform } from "./options";
import { readBody, sendJson } from "./respond";
import type { SimulatorState } from "./state";

const platform = z.enum(SIM_PLATFORMS as [SimPlatform, ...SimPlatform[]]);
const seconds = z.number().finite();

const issueInput = z.object({
  platform,
  accessExpiresInSeconds: seconds.optional(),
  refreshExpiresInSeconds: seconds.optional(),
  issuedAt: z.coerce.date().optional(),
  neverExpires: z.boolean().optional(),
});

const faultInput = z.object({
  kind: z.enum(["throttle", "unavailable", "html502", "timeout", "malformed"]),
  platform: platform.optional(),
  count: z.number().int().min(1).optional(),
  forSeconds: z.number().positive().optional(),
  retryAfterSeconds: z.number().min(0).optional(),
  regainAccessMinutes: z.number().min(0).optional(),
  graphCode: z.number().int().optional(),
  status: z.union([z.literal(500), z.literal(503)]).optional(),
});

const lifetime = z.number().positive();
const configPatch = z.object({
  latencyMs: z.union([z.number().min(0), z.partialRecord(platform, z.number().min(0))]).optional(),
  meta: z
    .object({ appId: z.string(), appSecret: z.string(), tokenLifetimeSeconds: lifetime, extends: z.boolean(), omitExpiresIn: z.boolean() })
    .partial()
    .optional(),
  instagram: z.object({ tokenLifetimeSeconds: lifetime, minAgeSeconds: z.number().min(0) }).partial().optional(),
  threads: z.object({ tokenLifetimeSeconds: lifetime, minAgeSeconds: z.number().min(0) }).partial().optional(),
  tiktok: z
    .object({
      clientKey: z.string(),
      clientSecret: z.string(),
      accessLifetimeSeconds: lifetime,
      refreshLifetimeSeconds: lifetime,
      replaceFields: z.record(z.string(), z.unknown()),
      omitFields: z.array(z.string()),
      requestsPerMinute: z.number().int().min(1).nullable(),
    })
    .partial()
    .optional(),
});

const revokeInput = z.object({ token: z.string().min(1) });

async function parse<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  const text = await readBody(req);
  return schema.parse(text.trim() === "" ? {} : JSON.parse(text));
}

/** The admin JSON API under `/_sim/`, so other processes can drive the simulator (`/_sim/oauth2/`: oauth2-admin.ts). */
export async function handleAdmin(
  state: SimulatorState,
  oauth2: OAuth2SimControl,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const trimmed = path.replace(/\/+$/, "");
  if (trimmed.startsWith("/_sim/oauth2/")) return handleOAuth2Admin(oauth2, req, res, trimmed);
  const route = `${req.method} ${trimmed}`;
  try {
    switch (route) {
      case "POST /_sim/tokens":
        return sendJson(res, 201, state.issue(await parse(req, issueInput)));
      case "GET /_sim/tokens":
        return sendJson(res, 200, { tokens: state.issuedTokens() });
      case "GET /_sim/stats": {
        const { callsForToken: _omit, ...snapshot } = state.stats();
        return sendJson(res, 200, snapshot);
      }
      case "POST /_sim/faults":
        state.faults.add(await parse(req, faultInput));
        return sendJson(res, 200, { ok: true });
      case "POST /_sim/revoke":
        return sendJson(res, 200, { revoked: state.revoke((await parse(req, revokeInput)).token) });
      case "GET /_sim/config":
        return sendJson(res, 200, state.config);
      case "POST /_sim/config":
        state.configure(await parse(req, configPatch));
        return sendJson(res, 200, state.config);
      case "POST /_sim/reset":
        state.reset();
        oauth2.reset();
        return sendJson(res, 200, { ok: true });
      default:
        return sendJson(res, 404, { error: `no admin route ${route}` });
    }
  } catch (error) {
    const message = error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? error.message : String(error);
    return sendJson(res, 400, { error: message });
  }
}
