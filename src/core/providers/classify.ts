import { z } from "zod";
import { RefreshError, type ErrorCode } from "../errors";
import type { Platform } from "../types";
import type { CallContext, HeaderLookup, PlatformAnswer } from "./http";

// The one place where a platform's failure becomes a RefreshError code. Messages and details are built here only
// from facts known to be non-secret, and anything the platform echoes back is redacted first.

const NAMES: Record<Platform, string> = { facebook: "Facebook", instagram: "Instagram", whatsapp: "WhatsApp", tiktok: "TikTok" };
const APP_CREDENTIALS: Record<Platform, string> = {
  facebook: "META_APP_ID / META_APP_SECRET",
  instagram: "META_APP_ID / META_APP_SECRET",
  whatsapp: "META_APP_ID / META_APP_SECRET",
  tiktok: "TIKTOK_CLIENT_KEY / TIKTOK_CLIENT_SECRET",
};

type Details = Record<string, string | number | boolean>;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Removes the secrets that were sent, and anything long enough to be a token, from text a platform returned. */
export function redact(text: string, secrets: readonly string[]): string {
  let clean = text;
  for (const secret of secrets) if (secret.length >= 4) clean = clean.split(secret).join("[redacted]");
  return clean.replace(/[A-Za-z0-9_\-.|%]{32,}/g, "[redacted]").slice(0, 300);
}

/** `Retry-After` in seconds or as an HTTP date. */
export function retryAfterMs(headers: HeaderLookup, now: number = Date.now()): number | undefined {
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** Meta's `estimated_time_to_regain_access` (minutes) from X-Business-Use-Case-Usage, the longest one. */
export function regainAccessMs(headers: HeaderLookup): number | undefined {
  const header = headers.get("x-business-use-case-usage");
  if (!header) return undefined;
  let minutes = 0;
  try {
    const usage: unknown = JSON.parse(header);
    for (const entries of isObject(usage) ? Object.values(usage) : []) {
      for (const entry of Array.isArray(entries) ? entries : []) {
        const m = isObject(entry) ? Number(entry.estimated_time_to_regain_access) : NaN;
        if (Number.isFinite(m)) minutes = Math.max(minutes, m);
      }
    }
  } catch {
    return undefined;
  }
  return minutes > 0 ? minutes * 60_000 : undefined;
}

/** The body kept as `cause`: exact secrets and token fields removed, so even a careless logger of causes leaks nothing. */
function causeOf(answer: PlatformAnswer, context: CallContext): unknown {
  let text = answer.json === undefined ? answer.text.slice(0, 2048) : JSON.stringify(answer.json);
  for (const secret of context.secrets) if (secret.length >= 4) text = text.split(secret).join("[redacted]");
  if (answer.json === undefined) return text;
  const body: unknown = JSON.parse(text);
  if (isObject(body)) for (const field of ["access_token", "refresh_token"]) if (field in body) body[field] = "[redacted]";
  return body;
}

function make(code: ErrorCode, message: string, answer: PlatformAnswer | undefined, context: CallContext, extra: {
  platformCode?: string | number;
  retryAfterMs?: number;
  details?: Details;
} = {}): RefreshError {
  return new RefreshError(code, {
    message,
    ...(answer && { httpStatus: answer.status }),
    ...(extra.platformCode !== undefined && { platformCode: extra.platformCode }),
    ...(extra.retryAfterMs !== undefined && { retryAfterMs: extra.retryAfterMs }),
    ...(extra.details && Object.keys(extra.details).length > 0 && { details: extra.details }),
    // The body is the debugging record; RefreshError keeps it out of enumeration and out of toJSON.
    ...(answer && { cause: causeOf(answer, context) }),
  });
}

function rateLimited(answer: PlatformAnswer, context: CallContext, platformCode: string | number | undefined, details: Details, fallbackMs?: number) {
  const wait = retryAfterMs(answer.headers) ?? fallbackMs;
  const after = wait === undefined ? "" : ` (retry in ${Math.ceil(wait / 1000)} s)`;
  return make("RATE_LIMITED", `${NAMES[context.platform]} is rate limiting requests${after}.`, answer, context, {
    platformCode,
    ...(wait !== undefined && { retryAfterMs: wait }),
    details,
  });
}

const unavailable = (answer: PlatformAnswer, context: CallContext, platformCode: string | number | undefined, details: Details) =>
  make("PLATFORM_UNAVAILABLE", `${NAMES[context.platform]} failed (HTTP ${answer.status}); the refresh will be retried.`, answer, context, {
    platformCode,
    details,
  });

const appRejected = (answer: PlatformAnswer, context: CallContext, platformCode: string | number | undefined, details: Details) =>
  make("INVALID_CREDENTIALS",
    `${NAMES[context.platform]} rejected the app credentials (${APP_CREDENTIALS[context.platform]}): fix the app configuration; the channel's own token may be fine.`,
    answer, context, { platformCode, details: { ...details, credentials: "app" } });

/** A failure without a body Refresca understands: decided by the HTTP status alone. */
function byStatus(answer: PlatformAnswer, context: CallContext): RefreshError {
  if (answer.status === 429) return rateLimited(answer, context, undefined, {});
  if (answer.status >= 500 || answer.status === 408) return unavailable(answer, context, undefined, {});
  return invalidResponse(answer, context, `HTTP ${answer.status} without an error Refresca understands`);
}

const GRAPH_THROTTLE = new Set([4, 17, 32, 341, 613]);
const SUBCODE_REASONS: Record<number, string> = {
  458: "the user removed the app",
  459: "the user must pass a Facebook checkpoint",
  460: "the session was invalidated, e.g. by a password change",
  463: "the token has expired",
  464: "the user is not confirmed",
  467: "the token is invalid",
  492: "the session is invalid",
};

/** Whether a Graph answer is a failure: a non-2xx, or any answer carrying an `error` object. */
export function isGraphFailure(answer: PlatformAnswer): boolean {
  return answer.status < 200 || answer.status >= 300 || (isObject(answer.json) && "error" in answer.json);
}

/** A Meta Graph error (Facebook, WhatsApp, Instagram): dispatched on `error.code`, since the HTTP status is unreliable. */
export function graphFailure(answer: PlatformAnswer, context: CallContext): RefreshError {
  const error = isObject(answer.json) && isObject(answer.json.error) ? answer.json.error : undefined;
  if (!error) return byStatus(answer, context);
  const code = Number(error.code);
  const subcode = Number(error.error_subcode);
  const message = typeof error.message === "string" ? redact(error.message, context.secrets) : "";
  const details: Details = {};
  if (typeof error.fbtrace_id === "string") details.fbtrace_id = error.fbtrace_id;
  if (Number.isFinite(subcode)) details.subcode = subcode;
  if (typeof error.type === "string") details.type = error.type;
  if (message) details.platformMessage = message;
  const platformCode = Number.isFinite(code) ? code : undefined;

  // Throttling first: Meta marks throttles `is_transient` too, but they must wait as told, not retry at once.
  if (GRAPH_THROTTLE.has(code) || (code >= 80001 && code <= 80014)) {
    // Code 4 is the application's own request limit: every channel refreshed through the app must wait, not just this one.
    const scope: Details = code === 4 ? { throttleScope: "app" } : {};
    return rateLimited(answer, context, platformCode, { ...details, ...scope }, regainAccessMs(answer.headers));
  }
  if (code === 101 || (code === 1 && /client secret|application/i.test(message))) return appRejected(answer, context, platformCode, details);
  if (code === 190 || code === 102) {
    const reason = SUBCODE_REASONS[subcode] ?? "expired or revoked";
    return make("INVALID_CREDENTIALS",
      `${NAMES[context.platform]} rejected the channel's token (${reason}): the channel must be reconnected.`,
      answer, context, { platformCode, details });
  }
  if (code === 100 && /at least [\d.]+ hours? old|24 hours/i.test(message)) {
    return make("TOO_EARLY", `${NAMES[context.platform]} only refreshes tokens that are at least 24 hours old.`, answer, context, {
      platformCode,
      details,
    });
  }
  if (code === 1 || code === 2 || error.is_transient === true || answer.status >= 500) {
    return unavailable(answer, context, platformCode, details);
  }
  return make("INVALID_RESPONSE", `${NAMES[context.platform]} refused the refresh with an error Refresca does not handle (code ${code}).`,
    answer, context, { platformCode, details });
}

/** The error name of a TikTok answer: `{error: "…"}` (OAuth) or `{error: {code}}` (resource APIs); "" when none. */
export function tiktokErrorName(json: unknown): string {
  if (!isObject(json)) return "";
  if (typeof json.error === "string") return json.error;
  if (isObject(json.error) && typeof json.error.code === "string" && json.error.code !== "ok") return json.error.code;
  return "";
}

/** A TikTok error, read from the body whatever the HTTP status (TikTok answers some errors with 200). */
export function tiktokFailure(answer: PlatformAnswer, context: CallContext): RefreshError {
  const name = tiktokErrorName(answer.json);
  if (!name) return byStatus(answer, context);
  const body = answer.json as Record<string, unknown>;
  const nested = isObject(body.error) ? body.error : {};
  const description = body.error_description ?? nested.message;
  const logId = body.log_id ?? nested.log_id;
  const details: Details = {};
  if (typeof logId === "string") details.log_id = logId;
  if (typeof description === "string" && description) details.platformMessage = redact(description, context.secrets);

  switch (name) {
    case "rate_limit_exceeded":
      return rateLimited(answer, context, name, details);
    case "invalid_client":
    case "unauthorized_client":
      return appRejected(answer, context, name, details);
    case "invalid_grant":
    case "access_denied":
      return make("INVALID_CREDENTIALS",
        "TikTok rejected the refresh token (expired, revoked or already used): the channel must be reconnected.",
        answer, context, { platformCode: name, details });
    case "server_error":
    case "temporarily_unavailable":
    case "internal_error":
      return unavailable(answer, context, name, details);
    case "invalid_request":
    case "unsupported_grant_type":
    case "invalid_scope":
      // TikTok says our request was malformed: a bug on this side, not the channel's fault.
      return make("INTERNAL", `TikTok refused the refresh request as malformed (${name}).`, answer, context, { platformCode: name, details });
    default:
      if (answer.status === 429) return rateLimited(answer, context, name, details);
      if (answer.status >= 500) return unavailable(answer, context, name, details);
      return make("INVALID_RESPONSE", `TikTok refused the refresh with an error Refresca does not handle (${name}).`, answer, context, {
        platformCode: name,
        details,
      });
  }
}

/** No answer at all: unreachable, deadline passed, or cancelled by the caller. */
export function transportFailure(error: unknown, context: CallContext & { timeoutMs: number; timedOut: boolean; cancelled: boolean }): RefreshError {
  const name = NAMES[context.platform];
  const message = context.timedOut
    ? `${name} did not answer within ${context.timeoutMs} ms; the refresh will be retried.`
    : context.cancelled
      ? `The call to ${name} was cancelled.`
      : `${name} could not be reached; the refresh will be retried.`;
  // Some client errors quote the request URL, which carries secrets for Meta: keep only a redacted summary.
  // fetch wraps the network error in `cause`; Node's http client rejects with it directly.
  const inner = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  const networkCode = ((inner ?? error) as (Error & { code?: unknown }) | undefined)?.code;
  const summary = {
    name: error instanceof Error ? error.name : "Error",
    message: redact(error instanceof Error ? error.message : String(error), context.secrets),
    ...(inner && { cause: redact(inner.message, context.secrets) }),
  };
  return new RefreshError("PLATFORM_UNAVAILABLE", {
    message,
    ...(typeof networkCode === "string" && { details: { networkCode } }),
    cause: summary,
  });
}

export function invalidResponse(answer: PlatformAnswer, context: CallContext, reason: string): RefreshError {
  return make("INVALID_RESPONSE", `${NAMES[context.platform]} answered with something Refresca does not understand: ${reason}.`, answer, context, {});
}

/** A token string: present, non-empty, no whitespace. */
export const tokenValue = z.string().min(1).regex(/^\S+$/);
/** A lifetime in seconds: a finite positive number, also when sent as a numeric string. */
export const expiresInSeconds = z
  .union([z.number(), z.string().trim().regex(/^\d+(\.\d+)?$/).transform(Number)])
  .pipe(z.number().positive());
/** A lifetime in seconds read leniently: the number when `expiresInSeconds` accepts it and it is at most `max`; else undefined. */
export function lenientSeconds(value: unknown, max: number): number | undefined {
  const parsed = expiresInSeconds.safeParse(value);
  return parsed.success && Number.isFinite(parsed.data) && parsed.data <= max ? parsed.data : undefined;
}

/**
 * A non-secret fact of an answer read leniently: a short string as it is, a finite number as its digits, anything else
 * (null, objects, empty or overlong text) dropped. Such facts only inform; they never decide whether a refresh counts.
 */
export function lenientFact(value: unknown, maxLength = 256): string | undefined {
  const text = typeof value === "string" ? value : typeof value === "number" && Number.isFinite(value) ? String(value) : undefined;
  return text !== undefined && text.length > 0 && text.length <= maxLength ? text : undefined;
}

/** `token_type`, when present, must be bearer. */
export const bearerType = z.string().regex(/^bearer$/i);

/** Validates a successful answer field by field; names the failing fields (never their values). */
export function parseSuccess<T>(schema: z.ZodType<T>, answer: PlatformAnswer, context: CallContext): T {
  if (answer.json === undefined) throw invalidResponse(answer, context, "the body is not JSON");
  const result = schema.safeParse(answer.json);
  if (result.success) return result.data;
  const fields = [...new Set(result.error.issues.map((issue) => issue.path.join(".") || "(body)"))].join(", ");
  throw make("INVALID_RESPONSE", `${NAMES[context.platform]} answered with something Refresca does not understand: unexpected ${fields}.`,
    answer, context, { details: { fields } });
}

