import { z } from "zod";
import { RefreshError } from "../errors";
import type { TokenSet } from "../types";
import type { EndpointDeclaration, PlatformCapabilities } from "./capabilities";
import { bearerType, expiresInSeconds, parseSuccess, tokenValue } from "./classify";
import { graphFailure, isGraphFailure } from "./facebook/errors";
import { send, type CallContext, type PlatformAnswer } from "./http";
import type { PlatformEndpoints, PlatformProvider, RefreshRequest, ResolvedProviderOptions as Options } from "./types";

// Meta's platforms that refresh a long-lived token with the token itself (Instagram Login, Threads) share one protocol:
// `GET {base}/refresh_access_token?grant_type=<the platform's>&access_token=<long-lived token>`, no app credentials,
// an answer `{access_token, token_type, expires_in}` giving a full lifetime again, Graph errors, and the 24-hour rule.
// Each platform's folder says which base URL, which grant and which lifetime; this file only knows the protocol.

/** How one platform uses the long-lived token refresh. */
export interface LongLivedTokenRefresh {
  /** The platform's capabilities; `minTokenAgeMs` is its 24-hour rule. */
  capabilities: PlatformCapabilities;
  /** Where `/refresh_access_token` lives. */
  endpoint: EndpointDeclaration<keyof PlatformEndpoints>;
  /** The platform's `grant_type`, e.g. "ig_refresh_token". */
  grantType: string;
  /** The lifetime each refresh grants. With more than this minus `minTokenAgeMs` left, the token is too young. */
  lifetimeMs: number;
}

/** Sends the refresh: the long-lived token is the only credential. */
export function longLivedRefreshRequest(
  options: Options,
  use: LongLivedTokenRefresh,
  request: RefreshRequest,
  context: CallContext,
): Promise<PlatformAnswer> {
  const url = new URL(`${options[use.endpoint.option].replace(/\/+$/, "")}/refresh_access_token`);
  url.searchParams.set("grant_type", use.grantType);
  // A channel may keep its long-lived token as the refresh token (and a short-lived one as the access token).
  url.searchParams.set("access_token", request.credentials.refreshToken ?? request.credentials.accessToken);
  return send(url, { method: "GET", headers: { accept: "application/json" } }, {
    transport: options.transport,
    timeoutMs: options.timeoutMs,
    ...(request.signal && { signal: request.signal }),
    context,
  });
}

const longLivedTokenAnswer = z.object({
  access_token: tokenValue,
  token_type: bearerType.optional(),
  expires_in: expiresInSeconds,
});

/** Validates the answer (a Graph error whatever the HTTP status) and maps it to a TokenSet. */
export function processLongLivedRefreshResponse(answer: PlatformAnswer, request: RefreshRequest, context: CallContext): TokenSet {
  if (isGraphFailure(answer)) throw graphFailure(answer, context);
  const body = parseSuccess(longLivedTokenAnswer, answer, context);
  const expiresAt = new Date(request.now.getTime() + body.expires_in * 1000);
  return {
    accessToken: body.access_token,
    expiresAt,
    // A channel that stored its long-lived token as the refresh token must now refresh with the new one.
    ...(request.credentials.refreshToken !== undefined && { refreshToken: body.access_token, refreshTokenExpiresAt: expiresAt }),
    details: { token_type: body.token_type ?? "bearer" },
  };
}

/** A provider refreshing long-lived tokens with themselves, refusing without a call those too young to refresh. */
export function createLongLivedTokenProvider(options: Options, use: LongLivedTokenRefresh): PlatformProvider {
  const { capabilities } = use;
  // Each refresh gives the same full lifetime, so the expiry tells the age: more than this left means too young.
  const minTokenAgeMs = capabilities.minTokenAgeMs ?? 0;
  const youngestRefreshableMs = use.lifetimeMs - minTokenAgeMs;
  const hours = Math.round((minTokenAgeMs / 3_600_000) * 100) / 100;
  return {
    platform: capabilities.id,
    capabilities,
    async refresh(request) {
      const expiresAt = request.channel.expiresAt?.getTime();
      if (expiresAt !== undefined && expiresAt - request.now.getTime() > youngestRefreshableMs) {
        throw new RefreshError("TOO_EARLY", {
          message: `${capabilities.displayName} only refreshes tokens that are at least ${hours} hours old; this one is younger.`,
          retryAfterMs: expiresAt - youngestRefreshableMs - request.now.getTime(),
        });
      }
      const { accessToken, refreshToken } = request.credentials;
      const context: CallContext = { platform: capabilities.id, capabilities, secrets: [accessToken, ...(refreshToken ? [refreshToken] : [])] };
      const answer = await longLivedRefreshRequest(options, use, request, context);
      return processLongLivedRefreshResponse(answer, request, context);
    },
  };
}
