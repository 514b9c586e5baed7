/**
 * Every expected failure has one stable code and one human sentence. Codes are a contract: callers branch on them.
 */
export const ERROR_MESSAGES = {
  INVALID_INPUT: "The input is not valid.",
  NOT_FOUND: "No such channel or tenant.",
  FORBIDDEN: "You are not allowed to act for this tenant.",
  UNAUTHORIZED: "Sign in first.",
  METHOD_NOT_ALLOWED: "This route does not take that HTTP method.",
  PAYLOAD_TOO_LARGE: "The request body is too large.",
  NO_REFRESH_TOKEN: "This channel has no refresh token: it is not set up for automatic refresh.",
  PLATFORM_UNAVAILABLE: "The platform's API could not be reached or failed; the refresh will be retried.",
  INVALID_CREDENTIALS: "The platform rejected the channel's token (expired or revoked): the channel must be reconnected.",
  RATE_LIMITED: "The platform is rate limiting requests; the refresh will wait as the platform asked.",
  TOO_EARLY: "The platform does not allow refreshing this token yet.",
  MISSING_APP_CREDENTIALS: "The app credentials for this platform are not configured.",
  APP_CREDENTIALS_REJECTED:
    "The platform rejected the app credentials (client id or secret): fix the app configuration; the channel's own token may be fine.",
  NOT_EXTENDED: "The platform returned a token that does not live longer: the channel must be reconnected before it expires.",
  ROTATION_LOST: "A refresh was cut off after the platform rotated the token, so the new token was lost: the channel must be reconnected.",
  NEEDS_REAUTH: "This channel must be reconnected before it can be refreshed.",
  NEVER_EXPIRES: "This channel's token never expires: there is nothing to refresh.",
  INVALID_RESPONSE: "The platform answered with something Refresca does not understand.",
  REFRESH_IN_PROGRESS: "Another refresh of this channel is in progress; try again shortly.",
  SUPERSEDED: "The channel's credentials were replaced while the refresh ran; the newer credentials were kept.",
  CREDENTIALS_UNREADABLE:
    "The channel's stored credentials cannot be decrypted with the configured keys: check REFRESCA_ENCRYPTION_KEYS.",
  QUEUE_UNAVAILABLE: "The job queue (Redis) is not reachable.",
  STORE_UNAVAILABLE: "The database is not reachable.",
  INTERNAL: "Something went wrong inside Refresca.",
} as const;

export type ErrorCode = keyof typeof ERROR_MESSAGES;

/** Codes that mean the channel cannot be refreshed again until someone reconnects it. */
export const REAUTH_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["INVALID_CREDENTIALS", "ROTATION_LOST"]);

export interface RefreshErrorOptions {
  /** A more specific sentence than the code's default. Must never contain a secret. */
  message?: string;
  /** HTTP status of the platform's answer, when there was one. */
  httpStatus?: number;
  /** The platform's own error code or name (Graph `code`, TikTok `error`). */
  platformCode?: string | number;
  /** How long the platform asked us to wait before trying again. */
  retryAfterMs?: number;
  /** Non-secret diagnostic facts (trace ids, subcodes). */
  details?: Record<string, string | number | boolean>;
  /** The underlying error or the offending body. Kept out of enumeration so a logger does not print it. */
  cause?: unknown;
}

/** The one error class of the refresh path: a stable code, a human sentence, and non-secret details. */
export class RefreshError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus?: number;
  readonly platformCode?: string | number;
  readonly retryAfterMs?: number;
  readonly details?: Record<string, string | number | boolean>;

  constructor(code: ErrorCode, options: RefreshErrorOptions = {}) {
    super(options.message ?? ERROR_MESSAGES[code]);
    this.name = "RefreshError";
    this.code = code;
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
    if (options.platformCode !== undefined) this.platformCode = options.platformCode;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.details !== undefined) this.details = options.details;
    Object.defineProperty(this, "cause", { value: options.cause, enumerable: false, writable: true, configurable: true });
  }

  /** Safe to log and to return: no cause, no body. */
  toJSON() {
    return {
      code: this.code,
      message: this.message,
      httpStatus: this.httpStatus,
      platformCode: this.platformCode,
      retryAfterMs: this.retryAfterMs,
      details: this.details,
    };
  }
}

/** The failure answer of every operation. */
export interface Failure {
  success: false;
  error: string;
  code: ErrorCode;
  retryAfterSeconds?: number;
}

export function failure(code: ErrorCode, error: string = ERROR_MESSAGES[code], extra: Partial<Failure> = {}): Failure {
  return { success: false, error, code, ...extra };
}

export function isRefreshError(error: unknown): error is RefreshError {
  return error instanceof RefreshError;
}
