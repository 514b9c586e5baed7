import type { ServerResponse } from "node:http";
import { sendGraphError, tokenProblem } from "./graph";
import { sendJson } from "./respond";
import type { SimulatorState } from "./state";

/** `GET /refresh_access_token?grant_type=ig_refresh_token&access_token=…`: Instagram Login's refresh. */
export function handleInstagramRefresh(state: SimulatorState, query: URLSearchParams, res: ServerResponse): void {
  const config = state.config.instagram;
  if (query.get("grant_type") !== "ig_refresh_token") {
    return sendGraphError(res, 400, { message: "Unsupported grant_type: expected ig_refresh_token", code: 100 });
  }
  const presented = query.get("access_token");
  if (!presented) return sendGraphError(res, 400, { message: "(#100) Missing parameter access_token", code: 100 });

  const now = Date.now();
  const found = state.find(presented);
  const record = found && found.platform === "instagram" ? found : undefined;
  const problem = tokenProblem(record, now);
  if (problem || !record) return sendGraphError(res, 400, problem ?? { message: "Invalid OAuth access token", code: 190 });
  if (now - record.issuedAt < config.minAgeSeconds * 1000) {
    const hours = Math.round((config.minAgeSeconds / 3600) * 100) / 100;
    return sendGraphError(res, 400, {
      message: `(#100) The access token cannot be refreshed yet: it must be at least ${hours} hours old.`,
      code: 100,
    });
  }
  // Each refresh gives a full new lifetime; the old token lives on until its own expiry.
  const expiresAt = now + config.tokenLifetimeSeconds * 1000;
  const next = state.mint({ platform: "instagram", kind: "access", issuedAt: now, expiresAt, grantExpiresAt: expiresAt });
  sendJson(res, 200, { access_token: next.token, token_type: "bearer", expires_in: config.tokenLifetimeSeconds });
}
