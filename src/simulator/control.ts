import type { Fault } from "./faults";
import type { OAuth2Fault, OAuth2SimControl, OAuth2SimOptions, OAuth2SimProvider, OAuth2SimProviderView, OAuth2SimStats } from "./oauth2";
import type { SimulatorConfig, SimulatorConfigPatch } from "./options";
import { statsFrom, type IssueInput, type IssuedTokenSet, type SimulatorState, type SimulatorStats } from "./state";

/** Drives a simulator, in this process or (through `/_sim/`) in another one. */
export interface SimulatorControl {
  /** Mints a valid token set (`POST /_sim/tokens`). */
  issue(input: IssueInput): Promise<IssuedTokenSet>;
  /** Every token string minted since start or the last reset (`GET /_sim/tokens`). */
  issuedTokens(): Promise<string[]>;
  /** Call counters (`GET /_sim/stats`). */
  stats(): Promise<SimulatorStats>;
  /** Makes the next calls fail (`POST /_sim/faults`). */
  inject(fault: Fault): Promise<void>;
  /** Revokes a token, and for TikTok its whole family; answers how many tokens stopped working (`POST /_sim/revoke`). */
  revoke(token: string): Promise<number>;
  /** Changes latency, lifetimes or app credentials while running (`POST /_sim/config`). */
  configure(patch: SimulatorConfigPatch): Promise<SimulatorConfig>;
  /** The current configuration (`GET /_sim/config`). */
  config(): Promise<SimulatorConfig>;
  /** Forgets tokens, counters and faults, the OAuth 2.0 endpoints' too; restores the starting configuration (`POST /_sim/reset`). */
  reset(): Promise<void>;
}

/** Control of a simulator running in this process. */
export function localControl(state: SimulatorState, oauth2: Pick<OAuth2SimControl, "reset">): SimulatorControl {
  return {
    issue: async (input) => state.issue(input),
    issuedTokens: async () => state.issuedTokens(),
    stats: async () => state.stats(),
    inject: async (fault) => state.faults.add(fault),
    revoke: async (token) => state.revoke(token),
    configure: async (patch) => (state.configure(patch), state.config),
    config: async () => state.config,
    reset: async () => (state.reset(), oauth2.reset()),
  };
}

/** The generic OAuth 2.0 endpoints of a simulator running elsewhere, driven through `/_sim/oauth2/`. */
export interface OAuth2RemoteControl {
  /** The token URL of a provider, e.g. http://127.0.0.1:PORT/oauth2/acme/token. */
  tokenUrl(provider: string): string;
  /** Adds or replaces a provider (`PUT /_sim/oauth2/providers/<id>`). */
  define(provider: string, config: OAuth2SimOptions[string]): Promise<OAuth2SimProviderView>;
  /** Every provider, without secrets (`GET /_sim/oauth2/providers`). */
  providers(): Promise<OAuth2SimProviderView[]>;
  /** Changes some of a provider's settings (`PATCH /_sim/oauth2/providers/<id>`). */
  configure(provider: string, patch: Partial<OAuth2SimProvider>): Promise<OAuth2SimProviderView>;
  /** Mints an authorization's first tokens (`POST /_sim/oauth2/providers/<id>/tokens`). */
  issue(provider: string, input?: { accessExpiresInSeconds?: number }): Promise<{ accessToken: string; refreshToken: string; expiresAt: string }>;
  /** Ends the authorization a token belongs to; answers how many tokens stopped working (`POST /_sim/oauth2/revoke`). */
  revoke(token: string): Promise<number>;
  /** Makes the next calls fail (`POST /_sim/oauth2/faults`). */
  inject(fault: OAuth2Fault): Promise<void>;
  /** Call counters (`GET /_sim/oauth2/stats`). */
  stats(): Promise<OAuth2SimStats>;
  /** Forgets tokens, counters and faults; restores the starting providers (`POST /_sim/oauth2/reset`). */
  reset(): Promise<void>;
}

/** Control of a simulator running elsewhere, through its admin API, its generic OAuth 2.0 endpoints included. */
export function connectSimulator(url: string): SimulatorControl & { oauth2: OAuth2RemoteControl } {
  const base = url.replace(/\/+$/, "");
  async function call<T>(method: "GET" | "POST" | "PUT" | "PATCH", path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${base}/_sim/${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new Error(`simulator ${method} /_sim/${path}: ${answer.error ?? response.status}`);
    return answer;
  }
  return {
    issue: (input) => call("POST", "tokens", input),
    issuedTokens: async () => (await call<{ tokens: string[] }>("GET", "tokens")).tokens,
    stats: async () => statsFrom(await call("GET", "stats")),
    inject: async (fault) => void (await call("POST", "faults", fault)),
    revoke: async (token) => (await call<{ revoked: number }>("POST", "revoke", { token })).revoked,
    configure: (patch) => call("POST", "config", patch),
    config: () => call("GET", "config"),
    reset: async () => void (await call("POST", "reset", {})),
    oauth2: {
      tokenUrl: (provider) => `${base}/oauth2/${provider}/token`,
      define: (provider, config) => call("PUT", `oauth2/providers/${encodeURIComponent(provider)}`, config),
      providers: async () => (await call<{ providers: OAuth2SimProviderView[] }>("GET", "oauth2/providers")).providers,
      configure: (provider, patch) => call("PATCH", `oauth2/providers/${encodeURIComponent(provider)}`, patch),
      issue: (provider, input = {}) => call("POST", `oauth2/providers/${encodeURIComponent(provider)}/tokens`, input),
      revoke: async (token) => (await call<{ revoked: number }>("POST", "oauth2/revoke", { token })).revoked,
      inject: async (fault) => void (await call("POST", "oauth2/faults", fault)),
      stats: async () => {
        const snapshot = await call<Omit<OAuth2SimStats, "callsForToken">>("GET", "oauth2/stats");
        return { ...snapshot, callsForToken: (token: string) => snapshot.callsByToken[token] ?? 0 };
      },
      reset: async () => void (await call("POST", "oauth2/reset", {})),
    },
  };
}
