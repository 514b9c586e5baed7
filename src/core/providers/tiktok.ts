import { z } from "zod";
import { RefreshError } from "../errors";
import type { TokenSet } from "../types";
import { bearerType, expiresInSeconds, parseSuccess, tiktokErrorName, tiktokFailure, tokenValue } from "./classify";
import { send, type CallContext, type PlatformAnswer } from "./http";
import type { PlatformProvider, ProviderOptions, RefreshRequest, ResolvedProviderOptions as Options } from "./types";

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

const tiktokTokenAnswer = z.object({
  access_token: tokenValue,
  expires_in: expiresInSeconds,
  refresh_token: tokenValue,
  refresh_expires_in: expiresInSeconds,
  open_id: z.string().optional(),
  scope: z.string().optional(),
  token_type: bearerType.optional(),
});

/** Validates TikTok's answer (whatever its HTTP status, since TikTok sends some errors with 200) and maps it. */
export function processTikTokRefreshResponse(answer: PlatformAnswer, request: RefreshRequest, context: CallContext): TokenSet {
  if (answer.status < 200 || answer.status >= 300 || tiktokErrorName(answer.json)) throw tiktokFailure(answer, context);
  const body = parseSuccess(tiktokTokenAnswer, answer, context);
  const now = request.now.getTime();
  const details: Record<string, string> = {};
  if (body.scope !== undefined) details.scope = body.scope;
  if (body.open_id !== undefined) details.open_id = body.open_id;
  if (body.token_type !== undefined) details.token_type = body.token_type;
  return {
    accessToken: body.access_token,
    expiresAt: new Date(now + body.expires_in * 1000),
    // Rotated: the refresh token just sent no longer works, so this one must be stored.
    refreshToken: body.refresh_token,
    refreshTokenExpiresAt: new Date(now + body.refresh_expires_in * 1000),
    details,
  };
}

export function createTikTokProvider(options: Options): PlatformProvider {
  return {
    platform: "tiktok",
    async refresh(request) {
      const app = options.apps.tiktok;
      if (!app) {
        throw new RefreshError("MISSING_APP_CREDENTIALS", {
          message: "The TikTok app credentials (TIKTOK_CLIENT_KEY / TIKTOK_CLIENT_SECRET) are not configured.",
        });
      }
      const { accessToken, refreshToken } = request.credentials;
      if (!refreshToken) throw new RefreshError("NO_REFRESH_TOKEN");
      const context: CallContext = { platform: "tiktok", secrets: [accessToken, refreshToken, app.clientSecret] };
      const answer = await tiktokRefreshRequest(options, app, refreshToken, request, context);
      return processTikTokRefreshResponse(answer, request, context);
    },
  };
}
