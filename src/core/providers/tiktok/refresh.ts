import { z } from "zod";
import { RefreshError } from "../../errors";
import type { TokenSet } from "../../types";
import { lenientFact, lenientSeconds, parseSuccess, tokenValue } from "../classify";
import { send, type CallContext, type PlatformAnswer } from "../http";
import type { PlatformProvider, ProviderOptions, RefreshRequest, ResolvedProviderOptions as Options } from "../types";
import { tiktokCapabilities as capabilities } from "./capabilities";
import { tiktokErrorName, tiktokFailure } from "./errors";

type TikTokApp = NonNullable<ProviderOptions["apps"]["tiktok"]>;

/** Sends TikTok v2's refresh_token grant (form body, app credentials in the body as TikTok requires). */
export function tiktokRefreshRequest(
  options: Options,
  app: TikTokApp,
  refreshToken: string,
  request: RefreshRequest,
  context: CallContext,
): Promise<PlatformAnswer> {
  const url = new URL(`${options.tiktokApiUrl.replace(/\/+$/, "")}/v2/oauth/token/`);
  const body = new URLSearchParams({
    client_key: app.clientKey,
    client_secret: app.clientSecret,
    grant_type: "refresh_token",
    refresh_token: refreshToken,
  });
  return send(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "cache-control": "no-cache", accept: "application/json" },
    body: body.toString(),
  }, { transport: options.transport, timeoutMs: options.timeoutMs, ...(request.signal && { signal: request.signal }), context });
}

// Only the two tokens decide whether TikTok's answer is a rotation: once TikTok sent them, the refresh token just used
// is spent, so throwing the answer away over a field that does not matter would lose the channel (the retry would
// present the spent token: ROTATION_LOST). Everything else is read leniently below.
const tiktokTokenAnswer = z.object({ access_token: tokenValue, refresh_token: tokenValue });

// TikTok documents access tokens living 24 hours (DESIGN: 2 h–24 h). An answer whose `expires_in` is missing or not
// believable gets one hour: shorter than any documented lifetime, so the token is refreshed again before it can have
// expired — one extra call at worst, instead of a channel whose token died unnoticed.
const FALLBACK_ACCESS_LIFETIME_SECONDS = 3600;
const MAX_ACCESS_LIFETIME_SECONDS = 366 * 86_400;
// Refresh tokens live up to a year; a longer claim is not believable either.
const MAX_REFRESH_LIFETIME_SECONDS = 2 * 366 * 86_400;

/**
 * Validates TikTok's answer (whatever its HTTP status, since TikTok sends some errors with 200) and maps it. The tokens
 * must be valid; `expires_in` falls back to a conservative hour; a missing or unbelievable `refresh_expires_in` leaves
 * `refreshTokenExpiresAt` unset, so the deadline already stored is kept (the rotated token is not known to outlive it);
 * `open_id`, `scope` and `token_type` are kept when readable and dropped otherwise.
 */
export function processTikTokRefreshResponse(answer: PlatformAnswer, request: RefreshRequest, context: CallContext): TokenSet {
  if (answer.status < 200 || answer.status >= 300 || tiktokErrorName(answer.json)) throw tiktokFailure(answer, context);
  const tokens = parseSuccess(tiktokTokenAnswer, answer, context);
  const body = answer.json as Record<string, unknown>;
  const now = request.now.getTime();
  const expiresIn = lenientSeconds(body.expires_in, MAX_ACCESS_LIFETIME_SECONDS) ?? FALLBACK_ACCESS_LIFETIME_SECONDS;
  const refreshExpiresIn = lenientSeconds(body.refresh_expires_in, MAX_REFRESH_LIFETIME_SECONDS);
  const details: Record<string, string> = {};
  for (const field of ["scope", "open_id", "token_type"] as const) {
    const fact = lenientFact(Array.isArray(body[field]) ? (body[field] as unknown[]).join(",") : body[field], field === "scope" ? 1024 : 256);
    if (fact !== undefined) details[field] = fact;
  }
  return {
    accessToken: tokens.access_token,
    expiresAt: new Date(now + expiresIn * 1000),
    // Rotated: the refresh token just sent no longer works, so this one must be stored.
    refreshToken: tokens.refresh_token,
    ...(refreshExpiresIn !== undefined && { refreshTokenExpiresAt: new Date(now + refreshExpiresIn * 1000) }),
    details,
  };
}

export function createTikTokProvider(options: Options): PlatformProvider {
  return {
    platform: capabilities.id,
    capabilities,
    async refresh(request) {
      const app = options.apps.tiktok;
      if (!app) {
        throw new RefreshError("MISSING_APP_CREDENTIALS", {
          message: `The TikTok app credentials (${capabilities.app.env.join(" / ")}) are not configured.`,
        });
      }
      const { accessToken, refreshToken } = request.credentials;
      if (!refreshToken) throw new RefreshError("NO_REFRESH_TOKEN");
      const context: CallContext = { platform: capabilities.id, capabilities, secrets: [accessToken, refreshToken, app.clientSecret] };
      const answer = await tiktokRefreshRequest(options, app, refreshToken, request, context);
      return processTikTokRefreshResponse(answer, request, context);
    },
  };
}
