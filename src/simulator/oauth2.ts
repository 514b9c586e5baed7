import type { IncomingMessage, ServerResponse } from "node:http";
import { FaultQueue, type Fault } from "./faults";
import { retryAfterHeader, sendHtml502, sendJson, type Headers } from "./respond";
import { newId } from "./tokens";
import { randomBytes } from "node:crypto";
import { PLATFORM_ID_SOURCE } from "../core/providers/capabilities";

const TOKEN_PATH = new RegExp(`^/oauth2/(${PLATFORM_ID_SOURCE})/token/?$`);

// A generic OAuth 2.0 authorization server's token endpoint (RFC 6749 §6 refresh, §5.2 errors), one per configured
// provider at `POST /oauth2/<id>/token`: what Refresca's configured providers and the presets are tested against.

/** One simulated OAuth 2.0 provider. */
export interface OAuth2SimProvider {
  clientId: string;
  clientSecret: string;
  /** How the client must authenticate. @defaultValue "client_secret_basic" */
  clientAuth: "client_secret_basic" | "client_secret_post";
  /** Each refresh answers a new refresh token and the one used stops working. @defaultValue true */
  rotate: boolean;
  /** @defaultValue 3600 */
  accessLifetimeSeconds: number;
  /** Leave `expires_in` out of answers (RFC 6749 only recommends it). @defaultValue false */
  omitExpiresIn: boolean;
}

export type OAuth2SimOptions = Record<string, Partial<OAuth2SimProvider> & Pick<OAuth2SimProvider, "clientId" | "clientSecret">>;

/** A failure the next calls of one simulated provider answer with. */
export type OAuth2Fault = Omit<Fault, "platform" | "regainAccessMinutes" | "graphCode"> & { provider?: string };

interface Grant {
  provider: string;
  family: string;
  kind: "access" | "refresh";
  expiresAt: number;
  revoked: boolean;
  rotatedOut: boolean;
}

/** What the simulator tells of a provider (its secret is only ever given to it). */
export interface OAuth2SimProviderView extends Omit<OAuth2SimProvider, "clientSecret"> {
  id: string;
  tokenUrl: string;
}

/** Call counters of the simulated OAuth 2.0 providers. */
export interface OAuth2SimStats {
  /** Token endpoint calls per provider, whatever their outcome. */
  calls: Record<string, number>;
  /** Rotated-out refresh tokens presented again (each ended its authorization). */
  reuseDetected: number;
  /** Calls per presented refresh token. */
  callsByToken: Record<string, number>;
  callsForToken(token: string): number;
}

/** Control of the simulated OAuth 2.0 providers (in this process; `/_sim/oauth2/` over HTTP). */
export interface OAuth2SimControl {
  /** The token URL of a provider, e.g. http://127.0.0.1:PORT/oauth2/acme/token. */
  tokenUrl(provider: string): string;
  /** Adds a provider, or replaces one (its tokens stay; the new settings apply to the next calls). */
  define(provider: string, config: OAuth2SimOptions[string]): OAuth2SimProviderView;
  /** Every simulated provider, without secrets. */
  providers(): OAuth2SimProviderView[];
  /** Mints an authorization's first access and refresh tokens. */
  issue(provider: string, input?: { accessExpiresInSeconds?: number }): { accessToken: string; refreshToken: string; expiresAt: string };
  /** Revokes the authorization a token belongs to (every token descending from it). */
  revoke(token: string): number;
  inject(fault: OAuth2Fault): void;
  configure(provider: string, patch: Partial<OAuth2SimProvider>): void;
  stats(): OAuth2SimStats;
  /** Forgets every token, counter and fault, and restores the providers the simulator started with. */
  reset(): void;
}

const defaults = { clientAuth: "client_secret_basic", rotate: true, accessLifetimeSeconds: 3600, omitExpiresIn: false } as const;

/** Decodes `application/x-www-form-urlencoded` text (RFC 6749 §2.3.1 encodes the Basic credentials so). */
function formDecode(value: string): string {
  return new URLSearchParams(`v=${value}`).get("v") ?? "";
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

function sendOAuthError(res: ServerResponse, status: number, error: string, description: string, headers: Headers = {}) {
  sendJson(res, status, { error, error_description: description }, { "cache-control": "no-store", ...headers });
}

/** The simulated providers of one simulator. */
export class OAuth2Simulation {
  private providers = new Map<string, OAuth2SimProvider>();
  private grants = new Map<string, Grant>();
  private readonly faults = new FaultQueue();
  private calls: Record<string, number> = {};
  private callsByToken = new Map<string, number>();
  private reuse = 0;

  constructor(private readonly options: OAuth2SimOptions, private readonly baseUrl: () => string) {
    for (const [id, provider] of Object.entries(options)) this.providers.set(id, { ...defaults, ...provider });
  }

  /** The provider's settings; throws naming it when there is none (the admin API answers 404). */
  private provider(id: string): OAuth2SimProvider {
    const config = this.providers.get(id);
    if (!config) throw new UnknownOAuth2Provider(id);
    return config;
  }

  private view(id: string): OAuth2SimProviderView {
    const { clientSecret: _secret, ...config } = this.provider(id);
    return { id, tokenUrl: `${this.baseUrl()}/oauth2/${id}/token`, ...config };
  }

  private mint(provider: string, family: string, kind: Grant["kind"], lifetimeSeconds: number): string {
    const token = `simo2_${provider}_${kind === "access" ? "at" : "rt"}_${randomBytes(24).toString("base64url")}`;
    this.grants.set(token, { provider, family, kind, expiresAt: Date.now() + lifetimeSeconds * 1000, revoked: false, rotatedOut: false });
    return token;
  }

  private revokeFamily(family: string): number {
    let count = 0;
    for (const grant of this.grants.values()) {
      if (grant.family === family && !grant.revoked) (grant.revoked = true), (count += 1);
    }
    return count;
  }

  control(): OAuth2SimControl {
    return {
      tokenUrl: (provider) => `${this.baseUrl()}/oauth2/${provider}/token`,
      define: (provider, config) => {
        this.providers.set(provider, { ...defaults, ...config });
        return this.view(provider);
      },
      providers: () => [...this.providers.keys()].map((id) => this.view(id)),
      issue: (provider, input = {}) => {
        const config = this.provider(provider);
        const family = newId();
        const lifetime = input.accessExpiresInSeconds ?? config.accessLifetimeSeconds;
        const accessToken = this.mint(provider, family, "access", lifetime);
        const refreshToken = this.mint(provider, family, "refresh", 365 * 86_400);
        return { accessToken, refreshToken, expiresAt: new Date(Date.now() + lifetime * 1000).toISOString() };
      },
      revoke: (token) => {
        const grant = this.grants.get(token);
        return grant ? this.revokeFamily(grant.family) : 0;
      },
      // The fault queue matches its `platform` by name: a provider id serves as one.
      inject: (fault) => this.faults.add({ ...fault, ...(fault.provider !== undefined && { platform: fault.provider as Fault["platform"] }) }),
      configure: (provider, patch) => {
        this.providers.set(provider, { ...this.provider(provider), ...patch });
      },
      stats: () => {
        const callsByToken = Object.fromEntries(this.callsByToken);
        return { calls: { ...this.calls }, reuseDetected: this.reuse, callsByToken, callsForToken: (token) => callsByToken[token] ?? 0 };
      },
      reset: () => {
        this.providers = new Map(Object.entries(this.options).map(([id, provider]) => [id, { ...defaults, ...provider }]));
        this.grants.clear();
        this.faults.clear();
        this.calls = {};
        this.callsByToken.clear();
        this.reuse = 0;
      },
    };
  }

  /** The provider whose token endpoint `POST /oauth2/<id>/token` this request is for; undefined for any other path. */
  handles(req: IncomingMessage, pathname: string): string | undefined {
    const match = TOKEN_PATH.exec(pathname);
    return match && req.method === "POST" && this.providers.has(match[1]!) ? match[1] : undefined;
  }

  answer(provider: string, req: IncomingMessage, form: URLSearchParams, res: ServerResponse): void {
    const config = this.providers.get(provider)!;
    const presented = form.get("refresh_token") ?? undefined;
    this.calls[provider] = (this.calls[provider] ?? 0) + 1;
    if (presented) this.callsByToken.set(presented, (this.callsByToken.get(presented) ?? 0) + 1);
    const fault = this.faults.take(provider);
    if (fault?.kind === "timeout") return;
    if (fault) return sendFault(res, fault);

    if (!(req.headers["content-type"] ?? "").toLowerCase().startsWith("application/x-www-form-urlencoded")) {
      return sendOAuthError(res, 400, "invalid_request", "The body must be application/x-www-form-urlencoded.");
    }
    const basic = basicCredentials(req.headers.authorization);
    const client = config.clientAuth === "client_secret_basic"
      ? basic
      : form.has("client_id") ? { id: form.get("client_id") ?? "", secret: form.get("client_secret") ?? "" } : undefined;
    if (!client || client.id !== config.clientId || client.secret !== config.clientSecret) {
      const challenge: Headers = config.clientAuth === "client_secret_basic" ? { "www-authenticate": 'Basic realm="simulator"' } : {};
      return sendOAuthError(res, 401, "invalid_client", "Client authentication failed.", challenge);
    }
    if (form.get("grant_type") !== "refresh_token") return sendOAuthError(res, 400, "unsupported_grant_type", "Only refresh_token.");
    if (!presented) return sendOAuthError(res, 400, "invalid_request", "refresh_token is missing.");
    const grant = this.grants.get(presented);
    if (!grant || grant.provider !== provider || grant.kind !== "refresh") {
      return sendOAuthError(res, 400, "invalid_grant", "The refresh token is invalid.");
    }
    if (grant.revoked) return sendOAuthError(res, 400, "invalid_grant", "The refresh token was revoked.");
    if (grant.rotatedOut) {
      // A rotated-out token presented again means two holders: end the whole authorization (OAuth 2.1 §4.3.1).
      this.revokeFamily(grant.family);
      this.reuse += 1;
      return sendOAuthError(res, 400, "invalid_grant", "The refresh token was already used.");
    }
    if (Date.now() >= grant.expiresAt) return sendOAuthError(res, 400, "invalid_grant", "The refresh token has expired.");

    const accessToken = this.mint(provider, grant.family, "access", config.accessLifetimeSeconds);
    const answer: Record<string, unknown> = { access_token: accessToken, token_type: "Bearer" };
    if (!config.omitExpiresIn) answer.expires_in = config.accessLifetimeSeconds;
    if (config.rotate) {
      grant.rotatedOut = true;
      answer.refresh_token = this.mint(provider, grant.family, "refresh", 365 * 86_400);
    }
    const scope = form.get("scope");
    if (scope) answer.scope = scope;
    sendJson(res, 200, answer, { "cache-control": "no-store", pragma: "no-cache" });
  }
}

/** A call naming a provider the simulator does not play. */
export class UnknownOAuth2Provider extends Error {
  constructor(readonly provider: string) {
    super(`no simulated OAuth 2.0 provider "${provider}"`);
    this.name = "UnknownOAuth2Provider";
  }
}

function sendFault(res: ServerResponse, fault: Fault): void {
  switch (fault.kind) {
    case "throttle":
      return sendOAuthError(res, 429, "temporarily_unavailable", "Too many requests.", retryAfterHeader(fault.retryAfterSeconds ?? 30));
    case "unavailable":
      return fault.status === 500
        ? sendOAuthError(res, 500, "server_error", "Unexpected error.", retryAfterHeader(fault.retryAfterSeconds))
        : sendOAuthError(res, 503, "temporarily_unavailable", "Down for maintenance.", retryAfterHeader(fault.retryAfterSeconds));
    case "html502":
      return sendHtml502(res);
    case "malformed":
      return sendJson(res, 200, { access_token: "", token_type: 42 });
    case "timeout":
      return;
  }
}
