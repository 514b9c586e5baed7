import { z } from "zod";
import { RefreshError, type ErrorCode } from "../errors";
import type { CallContext, HeaderLookup, PlatformAnswer } from "./http";

// The one place where a platform's failure becomes a RefreshError code. Messages and details are built here only
// from facts known to be non-secret, and anything the platform echoes back is redacted first.

/** The name of the platform called, as people read it in messages. */
export function platformName(context: Pick<CallContext, "platform" | "capabilities">): string {
  return context.capabilities.displayName;
}

function appCredentialsOf(context: CallContext): string {
  const env = context.capabilities.app.env;
  return env.length > 0 ? env.join(" / ") : "the app's client id and secret";
}

export type Details = Record<string, string | number | boolean>;

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Removes the secrets that were sent, and anything long enough to be a token, from text a platform returned. */
export function redact(text: string, secrets: readonly string[]): string {
  let clean = text;
  for (const secret of secrets) if (secret.length >= 4) clean = clean.split(secret).join("[redacted]");
  return clean.replace(/[A-Za-z0-9_\-.|%]{32,}/g, "[redacted]").slice(0, 300);
}

/**
 * `Retry-After` in seconds or as an HTTP date; without it, the IETF RateLimit headers' reset (draft 6/7
 * `RateLimit-Reset: <seconds>`, draft 8+ `RateLimit: "policy";r=0;t=<seconds>`), which gateways and rate-limit
 * middleware in front of token endpoints send.
 */
export function retryAfterMs(headers: HeaderLookup, now: number = Date.now()): number | undefined {
  const seconds = (text: string | undefined) => (text && /^\d+(\.\d+)?$/.test(text) ? Math.round(Number(text) * 1000) : undefined);
  const value = headers.get("retry-after")?.trim();
  if (value) {
    const delay = seconds(value);
    if (delay !== undefined) return delay;
    const at = Date.parse(value);
    if (Number.isFinite(at)) return Math.max(0, at - now);
  }
  return seconds(headers.get("ratelimit-reset")?.trim()) ?? seconds(/(?:^|;)\s*t=(\d+)/.exec(headers.get("ratelimit") ?? "")?.[1]);
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

export function make(code: ErrorCode, message: string, answer: PlatformAnswer | undefined, context: CallContext, extra: {
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

export function rateLimited(answer: PlatformAnswer, context: CallContext, platformCode: string | number | undefined, details: Details, fallbackMs?: number) {
  const wait = retryAfterMs(answer.headers) ?? fallbackMs;
  const after = wait === undefined ? "" : ` (retry in ${Math.ceil(wait / 1000)} s)`;
  return make("RATE_LIMITED", `${platformName(context)} is rate limiting requests${after}.`, answer, context, {
    platformCode,
    ...(wait !== undefined && { retryAfterMs: wait }),
    details,
  });
}

export const unavailable = (answer: PlatformAnswer, context: CallContext, platformCode: string | number | undefined, details: Details) =>
  make("PLATFORM_UNAVAILABLE", `${platformName(context)} failed (HTTP ${answer.status}); the refresh will be retried.`, answer, context, {
    platformCode,
    details,
  });

export const appRejected = (answer: PlatformAnswer, context: CallContext, platformCode: string | number | undefined, details: Details) =>
  make("APP_CREDENTIALS_REJECTED",
    `${platformName(context)} rejected the app credentials (${appCredentialsOf(context)}): fix the app configuration; the channel's own token may be fine.`,
    answer, context, { platformCode, details });

/** A failure without a body Refresca understands: decided by the HTTP status alone. */
export function byStatus(answer: PlatformAnswer, context: CallContext): RefreshError {
  if (answer.status === 429) return rateLimited(answer, context, undefined, {});
  if (answer.status >= 500 || answer.status === 408) return unavailable(answer, context, undefined, {});
  return invalidResponse(answer, context, `HTTP ${answer.status} without an error Refresca understands`);
}

/** No answer at all: unreachable, deadline passed, or cancelled by the caller. */
export function transportFailure(error: unknown, context: CallContext & { timeoutMs: number; timedOut: boolean; cancelled: boolean }): RefreshError {
  const name = platformName(context);
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
  return make("INVALID_RESPONSE", `${platformName(context)} answered with something Refresca does not understand: ${reason}.`, answer, context, {});
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
  throw make("INVALID_RESPONSE", `${platformName(context)} answered with something Refresca does not understand: unexpected ${fields}.`,
    answer, context, { details: { fields } });
}

