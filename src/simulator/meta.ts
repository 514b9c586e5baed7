import type { ServerResponse } from "node:http";
import { sendGraphError, tokenProblem } from "./graph";
import type { SimPlatform } from "./options";
import { sendJson } from "./respond";
import type { SimulatorState } from "./state";
import { platformOfToken } from "./tokens";

/** Facebook and WhatsApp share the endpoint: the presented token says which platform is being called. */
export function metaPlatformOf(query: URLSearchParams): SimPlatform {
  return platformOfToken(query.get("fb_exchange_token") ?? "") === "whatsapp" ? "whatsapp" : "facebook";
}

/** `GET /{version}/oauth/access_token?grant_type=fb_exchange_token&…`: Meta's long-lived token exchange. */
export function handleMetaExchange(state: SimulatorState, query: URLSearchParams, res: ServerResponse): void {
  const config = state.config.meta;
  const clientId = query.get("client_id");
  const clientSecret = query.get("client_secret");
  if (!clientId) return sendGraphError(res, 400, { message: "Missing client_id parameter.", code: 101 });
  if (clientId !== config.appId) {
    return sendGraphError(res, 400, { message: "Error validating application. Invalid application ID.", code: 101 });
  }
  if (!clientSecret) return sendGraphError(res, 400, { message: "Missing client_secret parameter.", code: 101 });
  if (clientSecret !== config.appSecret) return sendGraphError(res, 400, { message: "Error validating client secret.", code: 1 });
  if (query.get("grant_type") !== "fb_exchange_token") {
    return sendGraphError(res, 400, { message: "(#100) Invalid grant_type: expected fb_exchange_token", code: 100 });
  }
  const presented = query.get("fb_exchange_token");
  if (!presented) return sendGraphError(res, 400, { message: "(#100) Missing parameter fb_exchange_token", code: 100 });

  const now = Date.now();
  const found = state.find(presented);
  // Only Facebook's and WhatsApp's tokens are exchanged here; Instagram Login's, Threads' and TikTok's are unknown to it.
  const record = found && found.kind === "access" && (found.platform === "facebook" || found.platform === "whatsapp") ? found : undefined;
  const problem = tokenProblem(record, now);
  if (problem || !record) return sendGraphError(res, 400, problem ?? { message: "Invalid OAuth access token", code: 190 });

  const lifetimeMs = config.tokenLifetimeSeconds * 1000;
  const sixtyDayFlag = query.get("set_token_expires_in_60_days") === "true";
  // A system-user token exchanged without the flag, and a Page token, never expire.
  const neverExpires = record.platform === "whatsapp" ? !sixtyDayFlag : record.expiresAt === null;
  // Meta does not move a long-lived grant's expiry when `extends` is off: the new token dies with the old grant.
  const expiresAt = neverExpires ? null : config.extends ? now + lifetimeMs : (record.grantExpiresAt ?? now + lifetimeMs);
  // The old token is not revoked: Meta lets it live until its own expiry.
  const next = state.mint({
    platform: record.platform,
    kind: "access",
    issuedAt: now,
    expiresAt,
    grantExpiresAt: config.extends ? expiresAt : (record.grantExpiresAt ?? expiresAt),
  });
  const body: Record<string, unknown> = { access_token: next.token, token_type: "bearer" };
  if (expiresAt !== null && !config.omitExpiresIn) body.expires_in = Math.max(0, Math.floor((expiresAt - now) / 1000));
  sendJson(res, 200, body);
}
