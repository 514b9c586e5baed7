import { z } from "zod";
import { RefreshError } from "../../errors";
import type { TokenSet } from "../../types";
import { DAY_MS } from "../capabilities";
import { bearerType, expiresInSeconds, parseSuccess, tokenValue } from "../classify";
import { graphFailure, isGraphFailure } from "../facebook/errors";
import { send, type CallContext, type PlatformAnswer } from "../http";
import type { PlatformProvider, RefreshRequest, ResolvedProviderOptions as Options } from "../types";
import { instagramCapabilities as capabilities } from "./capabilities";

/** Instagram tokens live 60 days and refuse a refresh in their first 24 h: more than 59 days left means too young. */
const YOUNGEST_REFRESHABLE_MS = 60 * DAY_MS - capabilities.minTokenAgeMs!;

/** Sends Instagram Login's refresh (no app credentials: the long-lived token is enough). */
export function instagramRefreshRequest(options: Options, request: RefreshRequest, context: CallContext): Promise<PlatformAnswer> {
  const url = new URL(`${options.instagramGraphUrl.replace(/\/+$/, "")}/refresh_access_token`);
  url.searchParams.set("grant_type", "ig_refresh_token");
  url.searchParams.set("access_token", request.credentials.refreshToken ?? request.credentials.accessToken);
  return send(url, { method: "GET", headers: { accept: "application/json" } }, {
    transport: options.transport,
    timeoutMs: options.timeoutMs,
    ...(request.signal && { signal: request.signal }),
    context,
  });
}

const instagramTokenAnswer = z.object({
  access_token: tokenValue,
  token_type: bearerType.optional(),
  expires_in: expiresInSeconds,
});

/** Validates Instagram's answer and maps it to a TokenSet. */
export function processInstagramRefreshResponse(answer: PlatformAnswer, request: RefreshRequest, context: CallContext): TokenSet {
  if (isGraphFailure(answer)) throw graphFailure(answer, context);
  const body = parseSuccess(instagramTokenAnswer, answer, context);
  const expiresAt = new Date(request.now.getTime() + body.expires_in * 1000);
  return {
    accessToken: body.access_token,
    expiresAt,
    ...(request.credentials.refreshToken !== undefined && { refreshToken: body.access_token, refreshTokenExpiresAt: expiresAt }),
    details: { token_type: body.token_type ?? "bearer" },
  };
}

export function createInstagramProvider(options: Options): PlatformProvider {
  return {
    platform: capabilities.id,
    capabilities,
    async refresh(request) {
      const expiresAt = request.channel.expiresAt?.getTime();
      if (expiresAt !== undefined && expiresAt - request.now.getTime() > YOUNGEST_REFRESHABLE_MS) {
        throw new RefreshError("TOO_EARLY", {
          message: "Instagram only refreshes tokens that are at least 24 hours old; this one is younger.",
          retryAfterMs: expiresAt - YOUNGEST_REFRESHABLE_MS - request.now.getTime(),
        });
      }
      const { accessToken, refreshToken } = request.credentials;
      const context: CallContext = { platform: capabilities.id, capabilities, secrets: [accessToken, ...(refreshToken ? [refreshToken] : [])] };
      const answer = await instagramRefreshRequest(options, request, context);
      return processInstagramRefreshResponse(answer, request, context);
    },
  };
}
