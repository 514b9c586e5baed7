import type { RefreshError } from "../../errors";
import { appRejected, byStatus, isObject, make, platformName, rateLimited, redact, unavailable, type Details } from "../classify";
import type { CallContext, HeaderLookup, PlatformAnswer } from "../http";

// Meta Graph errors (Facebook, WhatsApp, Instagram): the one place where their failures become RefreshError codes.

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
      `${platformName(context)} rejected the channel's token (${reason}): the channel must be reconnected.`,
      answer, context, { platformCode, details });
  }
  if (code === 100 && /at least [\d.]+ hours? old|24 hours/i.test(message)) {
    return make("TOO_EARLY", `${platformName(context)} only refreshes tokens that are at least 24 hours old.`, answer, context, {
      platformCode,
      details,
    });
  }
  if (code === 1 || code === 2 || error.is_transient === true || answer.status >= 500) {
    return unavailable(answer, context, platformCode, details);
  }
  return make("INVALID_RESPONSE", `${platformName(context)} refused the refresh with an error Refresca does not handle (code ${code}).`,
    answer, context, { platformCode, details });
}

