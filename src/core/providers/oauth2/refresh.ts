import { z } from "zod";
import { RefreshError } from "../../errors";
import type { TokenSet } from "../../types";
import type { PlatformCapabilities } from "../capabilities";
import { bearerType, lenientFact, lenientSeconds, parseSuccess, tokenValue } from "../classify";
import { send, type CallContext, type PlatformAnswer } from "../http";
import type { PlatformProvider, RefreshRequest, ResolvedProviderOptions as Options } from "../types";
import type { OAuth2ProviderConfig } from "./config";
import { clientRejected, oauth2ErrorName, oauth2Failure } from "./errors";

/** The app's client credentials. */
export interface OAuth2Client {
  clientId: string;
  clientSecret: string;
}

/** `application/x-www-form-urlencoded` encoding of one value, as RFC 6749 §2.3.1 asks before Basic authentication. */
export function formEncode(value: string): string {
  return new URLSearchParams([["", value]]).toString().slice(1);
}

/**
 * The Authorization header of `client_secret_basic`: id and secret form-encoded first (RFC 6749 §2.3.1), or as they
 * are (`encoded: false`) for servers that do not decode them.
 */
export function basicAuthorization(client: OAuth2Client, encoded = true): string {
  const encode = encoded ? formEncode : (value: string) => value;
  return `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString("base64")}`;
}

/** Whether form-encoding changes the client's id or secret (so that a server that does not decode them would differ). */
export function encodingMatters(client: OAuth2Client): boolean {
  return formEncode(client.clientId) !== client.clientId || formEncode(client.clientSecret) !== client.clientSecret;
}

/** Sends the refresh_token grant (RFC 6749 §6) with the configured client authentication, scope and parameters. */
export function oauth2RefreshRequest(
  options: Options,
  config: OAuth2ProviderConfig,
  client: OAuth2Client,
  refreshToken: string,
  request: RefreshRequest,
  context: CallContext,
  basicEncoded = true,
): Promise<PlatformAnswer> {
  const body = new URLSearchParams({ ...config.extraParams, grant_type: "refresh_token", refresh_token: refreshToken });
  if (config.scope !== undefined) body.set("scope", config.scope);
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
    "cache-control": "no-cache",
  };
  if (config.clientAuth === "client_secret_post") {
    body.set("client_id", client.clientId);
    body.set("client_secret", client.clientSecret);
  } else {
    headers.authorization = basicAuthorization(client, basicEncoded);
  }
  return send(new URL(config.tokenUrl), { method: "POST", headers, body: body.toString() }, {
    transport: options.transport,
    timeoutMs: options.timeoutMs,
    ...(request.signal && { signal: request.signal }),
    context,
  });
}

// Only the tokens decide whether the answer is a refresh; the rest is read leniently (a rotated refresh token must not
// be thrown away over a field that does not matter: the one just sent may be spent).
const accessAnswer = z.object({ access_token: tokenValue, token_type: bearerType.optional() });
const rotatedAnswer = accessAnswer.extend({ refresh_token: tokenValue });
const MAX_LIFETIME_SECONDS = 2 * 366 * 86_400;

/**
 * Validates a token endpoint's answer (RFC 6749 §5.1) and maps it. Without a usable `expires_in` the configured
 * default lifetime holds. A refresh token in the answer is always stored (§6: the client must discard the old one);
 * with `rotatesRefreshToken: true` an answer without one is not understood.
 */
export function processOAuth2RefreshResponse(
  answer: PlatformAnswer,
  config: OAuth2ProviderConfig,
  request: RefreshRequest,
  context: CallContext,
): TokenSet {
  if (answer.status < 200 || answer.status >= 300 || oauth2ErrorName(answer.json)) throw oauth2Failure(answer, context);
  const tokens = parseSuccess(config.rotatesRefreshToken === true ? rotatedAnswer : accessAnswer, answer, context);
  const body = answer.json as Record<string, unknown>;
  const refreshToken = tokenValue.safeParse(body.refresh_token);
  const now = request.now.getTime();
  const expiresIn = lenientSeconds(body.expires_in, MAX_LIFETIME_SECONDS) ?? config.defaultLifetimeSeconds;
  // Not in RFC 6749, but sent by several platforms (LinkedIn, Google for some apps).
  const refreshExpiresIn = lenientSeconds(body.refresh_token_expires_in, MAX_LIFETIME_SECONDS);
  const details: Record<string, string> = {};
  const scope = lenientFact(body.scope, 1024);
  if (scope !== undefined) details.scope = scope;
  details.token_type = tokens.token_type ?? "bearer";
  return {
    accessToken: tokens.access_token,
    expiresAt: new Date(now + expiresIn * 1000),
    ...(refreshToken.success && { refreshToken: refreshToken.data }),
    ...(refreshToken.success && refreshExpiresIn !== undefined && { refreshTokenExpiresAt: new Date(now + refreshExpiresIn * 1000) }),
    details,
  };
}

/** The provider of one configured OAuth 2.0 platform. */
export function createOAuth2Provider(options: Options, config: OAuth2ProviderConfig, capabilities: PlatformCapabilities): PlatformProvider {
  const client = config.clientId !== undefined && config.clientSecret !== undefined
    ? { clientId: config.clientId, clientSecret: config.clientSecret }
    : undefined;
  const names = [config.clientIdEnv ?? "clientId", config.clientSecretEnv ?? "clientSecret"].join(" / ");
  // RFC 6749 §2.3.1 form-encodes the Basic credentials, and conformant servers decode them (oidc-provider does); some
  // widely used servers take them as sent (@node-oauth/oauth2-server 5), so a secret with "~", "+" or "/" fails there.
  // When such a server refuses the encoded form, the same request goes once more with the credentials as they are,
  // and this provider keeps what worked. Safe to repeat: a server authenticates the client before it looks at the
  // grant (RFC 6749 §3.2.1), so a refused client has spent no refresh token.
  let basicEncoded = true;
  return {
    platform: config.id,
    capabilities,
    async refresh(request) {
      if (!client) {
        throw new RefreshError("MISSING_APP_CREDENTIALS", {
          message: `The ${capabilities.displayName} app credentials (${names}) are not configured.`,
        });
      }
      const { accessToken, refreshToken } = request.credentials;
      if (!refreshToken) throw new RefreshError("NO_REFRESH_TOKEN");
      const context: CallContext = { platform: config.id, capabilities, secrets: [accessToken, refreshToken, client.clientSecret] };
      const send = (encoded: boolean) => oauth2RefreshRequest(options, config, client, refreshToken, request, context, encoded);
      let answer = await send(basicEncoded);
      if (basicEncoded && config.clientAuth === "client_secret_basic" && encodingMatters(client) && clientRejected(answer)) {
        const unencoded = await send(false);
        if (!clientRejected(unencoded)) {
          basicEncoded = false;
          answer = unencoded;
        }
      }
      return processOAuth2RefreshResponse(answer, config, request, context);
    },
  };
}

