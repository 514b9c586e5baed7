import type { RefreshError } from "../../errors";
import { appRejected, byStatus, isObject, make, platformName, rateLimited, redact, unavailable, type Details } from "../classify";
import type { CallContext, PlatformAnswer } from "../http";

// RFC 6749 §5.2 error answers of a generic OAuth 2.0 token endpoint: the one place they become RefreshError codes.

/** The `error` of an RFC 6749 §5.2 answer; "" when none. */
export function oauth2ErrorName(json: unknown): string {
  return isObject(json) && typeof json.error === "string" ? json.error : "";
}

/**
 * RFC 6749 §5.2 answers invalid_grant to a refresh token that is "invalid, expired, revoked [...] or was issued to
 * another client". @jmondi/oauth2-server (4.x, RefreshTokenGrant.validateOldRefreshToken) answers each of these
 * invalid_request instead, naming the case in error_description, as below; read those as invalid_grant. Only these
 * exact descriptions: any other invalid_request may be the provider's configuration, and flagging every channel
 * needs_reauth over it would be worse than retrying.
 */
const REFRESH_TOKEN_REFUSED = /^(token (has been revoked|has expired|is not linked to client|missing)|cannot (verify|decrypt) the refresh token)$/i;

/**
 * Whether the token endpoint refused the client itself: `invalid_client`, or a bare 401 (RFC 6749 §5.2 lets a server
 * answer a failed client authentication with 401 and WWW-Authenticate; some send no JSON body with it).
 */
export function clientRejected(answer: PlatformAnswer): boolean {
  const name = oauth2ErrorName(answer.json);
  return name === "invalid_client" || (name === "" && answer.status === 401);
}

/** A failed refresh: throttling first (429, or 503 with Retry-After), then the OAuth error, then the HTTP status. */
export function oauth2Failure(answer: PlatformAnswer, context: CallContext): RefreshError {
  const name = oauth2ErrorName(answer.json);
  const details: Details = {};
  const body = isObject(answer.json) ? answer.json : {};
  if (typeof body.error_description === "string" && body.error_description) {
    details.platformMessage = redact(body.error_description, context.secrets);
  }
  const platformCode = name || undefined;
  // A 503 that says when to come back is a throttle: wait as told rather than retry on the backoff schedule.
  // A token endpoint throttles the client (the app), not one refresh token: every channel of this provider waits
  // (throttleScope "app", as Meta's application limit in facebook/errors.ts), so none calls it before then.
  if (answer.status === 429 || (answer.status === 503 && answer.headers.get("retry-after"))) {
    return rateLimited(answer, context, platformCode, { ...details, throttleScope: "app" });
  }
  const refreshTokenRefused = name === "invalid_request" && REFRESH_TOKEN_REFUSED.test(String(body.error_description ?? ""));
  switch (refreshTokenRefused ? "invalid_grant" : name) {
    case "":
      return answer.status === 401 ? appRejected(answer, context, undefined, details) : byStatus(answer, context);
    case "invalid_grant":
      return make("INVALID_CREDENTIALS",
        `${platformName(context)} rejected the refresh token (expired, revoked or already used): the channel must be reconnected.`,
        answer, context, { platformCode: name, details });
    case "invalid_client":
    case "unauthorized_client":
      return appRejected(answer, context, name, details);
    case "slow_down":
      return rateLimited(answer, context, name, { ...details, throttleScope: "app" });
    case "server_error":
    case "temporarily_unavailable":
      return unavailable(answer, context, name, details);
    case "invalid_request":
    case "unsupported_grant_type":
    case "invalid_scope":
      // The server says the request was malformed: the provider's configuration or this side, not the channel.
      return make("INTERNAL", `${platformName(context)} refused the refresh request as malformed (${name}).`, answer, context, {
        platformCode: name,
        details,
      });
    default:
      if (answer.status >= 500) return unavailable(answer, context, name, details);
      return make("INVALID_RESPONSE", `${platformName(context)} refused the refresh with an error Refresca does not handle (${name}).`,
        answer, context, { platformCode: name, details });
  }
}
