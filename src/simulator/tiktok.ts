import type { ServerResponse } from "node:http";
import type { Fault } from "./faults";
import { retryAfterHeader, sendHtml502, sendJson, type Headers } from "./respond";
import type { SimulatorState } from "./state";
import { newId } from "./tokens";

const SCOPE = "user.info.basic,video.list";

/** TikTok's log ids: a timestamp followed by hex, e.g. 20240102030405ABCDEF…. */
function logId(): string {
  const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
  return stamp + newId(10).toUpperCase();
}

function sendTikTokError(res: ServerResponse, status: number, error: string, description: string, headers: Headers = {}) {
  const id = logId();
  sendJson(res, status, { error, error_description: description, log_id: id }, { "x-tt-logid": id, ...headers });
}

/** Answers a TikTok call with an injected fault (timeouts are handled by the server). */
export function sendTikTokFault(res: ServerResponse, fault: Fault): void {
  switch (fault.kind) {
    case "throttle":
      return sendTikTokError(res, 429, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later.",
        retryAfterHeader(fault.retryAfterSeconds));
    case "unavailable":
      return fault.status === 500
        ? sendTikTokError(res, 500, "server_error", "The server encountered an unexpected error.", retryAfterHeader(fault.retryAfterSeconds))
        : sendTikTokError(res, 503, "temporarily_unavailable", "The service is temporarily unavailable. Please try again later.",
            retryAfterHeader(fault.retryAfterSeconds));
    case "html502":
      return sendHtml502(res);
    case "malformed":
      return sendJson(res, 200, { access_token: "", expires_in: -1, open_id: 42 });
    case "timeout":
      return;
  }
}

// When the app's recent calls were taken, per simulator: TikTok counts requests in a one-minute sliding window.
const quotaWindows = new WeakMap<SimulatorState, number[]>();

/** Counts this call against the app's quota; true when the quota of the last minute is already spent. */
function overQuota(state: SimulatorState, perMinute: number | null): boolean {
  if (perMinute === null) return false;
  const now = Date.now();
  const recent = (quotaWindows.get(state) ?? []).filter((at) => at > now - 60_000);
  quotaWindows.set(state, recent);
  if (recent.length >= perMinute) return true;
  recent.push(now);
  return false;
}

/**
 * `POST /v2/oauth/token/` with `grant_type=refresh_token`: TikTok's refresh, with rotation and reuse detection.
 * Errors come sometimes with a 4xx and sometimes with a 200, as TikTok does: clients must read the body.
 */
export function handleTikTokRefresh(state: SimulatorState, form: URLSearchParams, contentType: string, res: ServerResponse): void {
  const config = state.config.tiktok;
  if (!contentType.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    return sendTikTokError(res, 400, "invalid_request", "The request parameters are malformed.");
  }
  if (form.get("client_key") !== config.clientKey || form.get("client_secret") !== config.clientSecret) {
    return sendTikTokError(res, 401, "invalid_client", "Client key or secret is incorrect.");
  }
  if (form.get("grant_type") !== "refresh_token") {
    return sendTikTokError(res, 400, "unsupported_grant_type", "The grant type is not supported.");
  }
  if (overQuota(state, config.requestsPerMinute)) {
    return sendTikTokError(res, 429, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later.");
  }
  const presented = form.get("refresh_token");
  if (!presented) return sendTikTokError(res, 400, "invalid_request", "The request parameters are malformed.");

  const now = Date.now();
  const found = state.find(presented);
  const record = found && found.platform === "tiktok" && found.kind === "refresh" ? found : undefined;
  if (!record || record.family === undefined) return sendTikTokError(res, 400, "invalid_grant", "Refresh token is invalid or expired.");
  if (record.revoked) return sendTikTokError(res, 400, "invalid_grant", "Refresh token has been revoked.");
  if (record.rotatedOut) {
    // A rotated-out token presented again means two holders: stop the whole family, as OAuth 2.1 §4.3.1 advises.
    state.revokeFamily(record.family);
    state.recordReuse();
    return sendTikTokError(res, 200, "invalid_grant", "Refresh token is invalid or expired.");
  }
  if (record.expiresAt !== null && now >= record.expiresAt) {
    return sendTikTokError(res, 400, "invalid_grant", "Refresh token is invalid or expired.");
  }

  record.rotatedOut = true;
  const family = { family: record.family, openId: record.openId, grantExpiresAt: null, issuedAt: now } as const;
  const access = state.mint({ ...family, platform: "tiktok", kind: "access", expiresAt: now + config.accessLifetimeSeconds * 1000 });
  const refresh = state.mint({ ...family, platform: "tiktok", kind: "refresh", expiresAt: now + config.refreshLifetimeSeconds * 1000 });
  const answer: Record<string, unknown> = {
    access_token: access.token,
    expires_in: config.accessLifetimeSeconds,
    open_id: record.openId,
    refresh_expires_in: config.refreshLifetimeSeconds,
    refresh_token: refresh.token,
    scope: SCOPE,
    token_type: "Bearer",
    ...config.replaceFields,
  };
  for (const field of config.omitFields) delete answer[field];
  sendJson(res, 200, answer);
}
