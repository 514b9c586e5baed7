import type { ErrorCode, Failure } from "../core/errors";

/**
 * The HTTP status of each failure code: the one place the REST API decides it. Codes that tell the caller to come
 * back later carry `Retry-After` (see `answer`).
 */
const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  // The channel's state, not the request, stands in the way: someone must reconnect it.
  NEEDS_REAUTH: 409,
  INVALID_CREDENTIALS: 409,
  ROTATION_LOST: 409,
  NOT_EXTENDED: 409,
  SUPERSEDED: 409,
  PAYLOAD_TOO_LARGE: 413,
  NO_REFRESH_TOKEN: 422,
  NEVER_EXPIRES: 422,
  TOO_EARLY: 425,
  RATE_LIMITED: 429,
  PLATFORM_UNAVAILABLE: 502,
  INVALID_RESPONSE: 502,
  MISSING_APP_CREDENTIALS: 503,
  // The platform refused the app itself: a configuration for the operator, not a fault of the request or the channel.
  APP_CREDENTIALS_REJECTED: 503,
  REFRESH_IN_PROGRESS: 503,
  QUEUE_UNAVAILABLE: 503,
  STORE_UNAVAILABLE: 503,
};

/** The status a failure is answered with (500 for anything unexpected). */
export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** Headers of a failure: `Retry-After` (whole seconds) whenever the answer says when to come back. */
export function failureHeaders(result: Failure): Record<string, string> {
  return result.retryAfterSeconds !== undefined ? { "retry-after": String(Math.max(1, Math.ceil(result.retryAfterSeconds))) } : {};
}
