import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Fault } from "./faults";
import type { SimPlatform } from "./options";
import { retryAfterHeader, sendHtml502, sendJson, type Headers } from "./respond";

/** Meta's Graph error body, shared by Facebook, WhatsApp, Instagram and Threads. */
export interface GraphError {
  message: string;
  code: number;
  type?: string;
  error_subcode?: number;
  is_transient?: boolean;
}

export function sendGraphError(res: ServerResponse, status: number, error: GraphError, headers: Headers = {}): void {
  const fbtraceId = `A${randomBytes(15).toString("base64url")}`;
  const body = { error: { type: "OAuthException", ...error, fbtrace_id: fbtraceId } };
  const extra: Headers = { "x-fb-trace-id": fbtraceId, ...headers };
  // Meta adds an RFC 6750 challenge to token errors.
  if (error.code === 190) extra["www-authenticate"] = `OAuth "Facebook Platform" "invalid_token" "${error.message}"`;
  sendJson(res, status, body, extra);
}

const THROTTLE_MESSAGES: Record<number, string> = {
  4: "(#4) Application request limit reached",
  17: "(#17) User request limit reached",
  32: "(#32) Page request limit reached",
  613: "(#613) Calls to this api have exceeded the rate limit.",
  80002: "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again.",
};

const BUC_TYPE: Record<SimPlatform, string> = {
  facebook: "pages",
  instagram: "instagram",
  whatsapp: "whatsapp_business_management",
  tiktok: "",
  threads: "threads",
};

// The Graph code a throttle answers unless told: Instagram's own 80002; Threads counts calls per app and user pair
// (https://developers.facebook.com/docs/threads/overview/, "Rate Limiting"), so a per-user limit, 613 — which code
// Threads really sends is not documented; Meta's app-wide 4 otherwise.
const DEFAULT_THROTTLE_CODE: Partial<Record<SimPlatform, number>> = { instagram: 80002, threads: 613 };

/** Answers a Graph-platform call with an injected fault (timeouts are handled by the server). */
export function sendGraphFault(res: ServerResponse, fault: Fault, platform: SimPlatform): void {
  switch (fault.kind) {
    case "throttle": {
      const code = fault.graphCode ?? DEFAULT_THROTTLE_CODE[platform] ?? 4;
      const minutes =
        fault.regainAccessMinutes ?? (fault.retryAfterSeconds !== undefined ? Math.ceil(fault.retryAfterSeconds / 60) : 1);
      const usage = { call_count: 100, total_cputime: 28, total_time: 31 };
      const buc = { "1234567890": [{ type: BUC_TYPE[platform], ...usage, estimated_time_to_regain_access: minutes }] };
      const message = THROTTLE_MESSAGES[code] ?? `(#${code}) There have been too many calls. Wait a bit and try again.`;
      // Graph's HTTP status is unreliable for throttling: app-level limits come as 403, BUC limits as 400.
      return sendGraphError(res, code >= 80000 ? 400 : 403, { message, code, is_transient: true }, {
        "x-app-usage": JSON.stringify(usage),
        "x-business-use-case-usage": JSON.stringify(buc),
        ...retryAfterHeader(fault.retryAfterSeconds),
      });
    }
    case "unavailable":
      return sendGraphError(res, 500, {
        message: "An unexpected error has occurred. Please retry your request later.",
        code: 2,
        is_transient: true,
      }, retryAfterHeader(fault.retryAfterSeconds));
    case "html502":
      return sendHtml502(res);
    case "malformed":
      return sendJson(res, 200, { access_token: "", token_type: "bearer", expires_in: "soon" });
    case "timeout":
      return;
  }
}

/** The Graph error for a token that is unknown, revoked or expired; undefined when the token is usable. */
export function tokenProblem(
  record: { revoked: boolean; expiresAt: number | null } | undefined,
  now: number,
): GraphError | undefined {
  if (!record) return { message: "Invalid OAuth access token - Cannot parse access token", code: 190, error_subcode: 467 };
  if (record.revoked) {
    return {
      message:
        "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
      code: 190,
      error_subcode: 460,
    };
  }
  if (record.expiresAt !== null && now >= record.expiresAt) {
    const at = new Date(record.expiresAt).toUTCString();
    return {
      message: `Error validating access token: Session has expired on ${at}. The current time is ${new Date(now).toUTCString()}.`,
      code: 190,
      error_subcode: 463,
    };
  }
  return undefined;
}
