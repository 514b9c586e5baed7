import { z } from "zod";
import { RefreshError } from "../../errors";
import type { TokenSet } from "../../types";
import type { PlatformCapabilities } from "../capabilities";
import { bearerType, expiresInSeconds, parseSuccess, tokenValue } from "../classify";
import { send, type CallContext, type PlatformAnswer } from "../http";
import type { PlatformProvider, ProviderOptions, RefreshRequest, ResolvedProviderOptions as Options } from "../types";
import { graphFailure, isGraphFailure } from "./errors";

/**
 * How one platform uses Meta's `fb_exchange_token` (Facebook, WhatsApp, and Instagram when connected via Facebook
 * Login): its capabilities, and the parameters it adds to the exchange.
 */
export interface MetaExchangeUse {
  capabilities: PlatformCapabilities;
  extraParams?: Readonly<Record<string, string>>;
}

type MetaApp = NonNullable<ProviderOptions["apps"]["meta"]>;

/** Sends Meta's long-lived token exchange with the platform's extra parameters. */
export function metaExchangeRequest(
  options: Options,
  app: MetaApp,
  use: MetaExchangeUse,
  request: RefreshRequest,
  context: CallContext,
): Promise<PlatformAnswer> {
  const url = new URL(`${options.metaGraphUrl.replace(/\/+$/, "")}/${options.metaGraphVersion}/oauth/access_token`);
  url.searchParams.set("grant_type", "fb_exchange_token");
  url.searchParams.set("client_id", app.appId);
  url.searchParams.set("client_secret", app.appSecret);
  // The long-lived access token is the refresh credential on Meta.
  url.searchParams.set("fb_exchange_token", request.credentials.refreshToken ?? request.credentials.accessToken);
  for (const [name, value] of Object.entries(use.extraParams ?? {})) url.searchParams.set(name, value);
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

/** A provider refreshing through Meta's exchange, for the platform `use` describes. */
export function createMetaProvider(options: Options, use: MetaExchangeUse): PlatformProvider {
  const { capabilities } = use;
  const platform = capabilities.id;
  return {
    platform,
    capabilities,
    async refresh(request) {
      const app = options.apps.meta;
      if (!app) {
        throw new RefreshError("MISSING_APP_CREDENTIALS", {
          message: `The Meta app credentials (${capabilities.app.env.join(" / ")}) are not configured.`,
        });
      }
      const { accessToken, refreshToken } = request.credentials;
      const context: CallContext = { platform, capabilities, secrets: [accessToken, ...(refreshToken ? [refreshToken] : []), app.appSecret] };
      const answer = await metaExchangeRequest(options, app, use, request, context);
      return processMetaExchangeResponse(answer, request, context);
    },
  };
}
