import type { ServerResponse } from "node:http";
import { sendGraphError, tokenProblem } from "./graph";
import type { SimPlatform } from "./options";
import { sendJson } from "./respond";
import type { SimulatorState } from "./state";

/** How one platform plays the long-lived token refresh (Instagram Login, Threads). */
export interface LongLivedRefreshPlay {
  platform: SimPlatform;
  /** The `grant_type` it expects, e.g. "ig_refresh_token". */
  grantType: string;
  /** Lifetime of each refreshed token. */
  tokenLifetimeSeconds: number;
  /** A token younger than this is refused (the 24-hour rule). */
  minAgeSeconds: number;
}

/**
 * `GET /refresh_access_token?grant_type=<platform's>&access_token=…`: a long-lived token refreshed with itself, no app
 * credentials, Graph errors — what Instagram Login and Threads share.
 */
export function handleLongLivedRefresh(state: SimulatorState, play: LongLivedRefreshPlay, query: URLSearchParams, res: ServerResponse): void {
  if (query.get("grant_type") !== play.grantType) {
    return sendGraphError(res, 400, { message: `Unsupported grant_type: expected ${play.grantType}`, code: 100 });
  }
  const presented = query.get("access_token");
  if (!presented) return sendGraphError(res, 400, { message: "(#100) Missing parameter access_token", code: 100 });

  const now = Date.now();
  const found = state.find(presented);
  // Each platform knows only its own tokens: an Instagram token means nothing to Threads, and the other way round.
  const record = found && found.platform === play.platform ? found : undefined;
  const problem = tokenProblem(record, now);
  if (problem || !record) return sendGraphError(res, 400, problem ?? { message: "Invalid OAuth access token", code: 190 });
  if (now - record.issuedAt < play.minAgeSeconds * 1000) {
    const hours = Math.round((play.minAgeSeconds / 3600) * 100) / 100;
    return sendGraphError(res, 400, {
      message: `(#100) The access token cannot be refreshed yet: it must be at least ${hours} hours old.`,
      code: 100,
    });
  }
  // Each refresh gives a full new lifetime; the old token lives on until its own expiry.
  const expiresAt = now + play.tokenLifetimeSeconds * 1000;
  const next = state.mint({ platform: play.platform, kind: "access", issuedAt: now, expiresAt, grantExpiresAt: expiresAt });
  sendJson(res, 200, { access_token: next.token, token_type: "bearer", expires_in: play.tokenLifetimeSeconds });
}
