import type { RefreshError } from "../../errors";
import { appRejected, byStatus, isObject, make, rateLimited, redact, unavailable, type Details } from "../classify";
import type { CallContext, PlatformAnswer } from "../http";

// TikTok's OAuth errors: the one place where its failures become RefreshError codes.

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

