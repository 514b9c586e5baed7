import { z } from "zod";
import { RefreshError } from "../errors";
import type { Platform, TokenSet } from "../types";
import { bearerType, expiresInSeconds, graphFailure, isGraphFailure, parseSuccess, tokenValue } from "./classify";
import { send, type CallContext, type PlatformAnswer } from "./http";
import type { PlatformProvider, ProviderOptions, RefreshRequest, ResolvedProviderOptions as Options } from "./types";

/** The platforms that refresh through Meta's `fb_exchange_token` (Instagram only when connected via Facebook Login). */
export type MetaPlatform = Extract<Platform, "facebook" | "whatsapp" | "instagram">;

type MetaApp = NonNullable<ProviderOptions["apps"]["meta"]>;

/** Sends Meta's long-lived token exchange; WhatsApp asks for a 60-day system-user token. */
export function metaExchangeRequest(
  options: Options,
  app: MetaApp,
  platform: MetaPlatform,
  request: RefreshRequest,
  context: CallContext,
): Promise<PlatformAnswer> {
  const url = new URL(`${options.metaGraphUrl.replace(/\/+$/, "")}/${options.metaGraphVersion}/oauth/access_token`);
  url.searchParams.set("grant_type", "fb_exchange_token");
  url.searchParams.set("client_id", app.appId);
  url.searchParams.set("client_secret", app.appSecret);
  // The long-lived access token is the refresh credential on Meta.
  url.searchParams.set("fb_exchange_token", request.credentials.refreshToken ?? request.credentials.accessToken);
  if (platform === "whatsapp") url.searchParams.set("set_token_expires_in_60_days", "true");
  return send(url, { method: "GET", headers: { accept: "application/json" } }, {
    transport: options.transport,
    timeoutMs: options.timeoutMs,
    ...(request.signal && { signal: request.signal }),
    context,
  });
}

const metaTokenAnswer = z.object({
  access_token: tokenValue,
  token_type: bearerType.optional(),
  expires_in: expiresInSeconds.optional(),
});

/** Validates Meta's answer and maps it to a TokenSet. */
export function processMetaExchangeResponse(answer: PlatformAnswer, request: RefreshRequest, context: CallContext): TokenSet {
  if (isGraphFailure(answer)) throw graphFailure(answer, context);
  const body = parseSuccess(metaTokenAnswer, answer, context);
  // Without expires_in Meta says nothing about a longer life: keep the current expiry so the caller can see
  // that the token was not extended (and a never-expiring token stays never-expiring).
  const expiresAt =
    body.expires_in === undefined ? request.channel.expiresAt : new Date(request.now.getTime() + body.expires_in * 1000);
  return {
    accessToken: body.access_token,
    expiresAt,
    // A channel that stored its long-lived token as the refresh token must now refresh with the new one.
    ...(request.credentials.refreshToken !== undefined && { refreshToken: body.access_token, refreshTokenExpiresAt: expiresAt }),
    details: { token_type: body.token_type ?? "bearer" },
  };
}

export function createMetaProvider(options: Options, platform: MetaPlatform): PlatformProvider {
  return {
    platform,
    async refresh(request) {
      const app = options.apps.meta;
      if (!app) {
        throw new RefreshError("MISSING_APP_CREDENTIALS", {
          message: "The Meta app credentials (META_APP_ID / META_APP_SECRET) are not configured.",
        });
      }
      const { accessToken, refreshToken } = request.credentials;
      const context: CallContext = { platform, secrets: [accessToken, ...(refreshToken ? [refreshToken] : []), app.appSecret] };
      const answer = await metaExchangeRequest(options, app, platform, request, context);
      return processMetaExchangeResponse(answer, request, context);
    },
  };
}
