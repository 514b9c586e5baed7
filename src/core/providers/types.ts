import type { Transport } from "./http";
import type { BuiltInEndpointOption } from "./built-ins";
import type { PlatformCapabilities } from "./capabilities";
import type { Channel, Credentials, TokenSet } from "../types";

/**
 * Where each platform's API lives: one key per endpoint a built-in platform declares in its capabilities (e.g.
 * `metaGraphUrl`, `threadsGraphUrl`), the platforms' real APIs in DEFAULT_ENDPOINTS. Tests, demos and benchmarks point
 * them at the simulator.
 */
export type PlatformEndpoints = { [Option in BuiltInEndpointOption]: string };

/** The app credentials of each platform; a missing one only affects that platform's channels. */
export interface AppCredentials {
  meta?: { appId: string; appSecret: string };
  tiktok?: { clientKey: string; clientSecret: string };
}

export interface ProviderOptions extends PlatformEndpoints {
  apps: AppCredentials;
  /** Deadline of one platform call. @defaultValue 10000 */
  timeoutMs: number;
  /** Injected I/O, as oauth4webapi's customFetch. @defaultValue Node's http/https clients over keep-alive connections */
  fetch?: typeof fetch;
}

/** What a provider needs to refresh one channel. */
export interface RefreshRequest {
  channel: Pick<Channel, "id" | "type" | "meta" | "expiresAt">;
  credentials: Credentials;
  now: Date;
  signal?: AbortSignal;
}

/** One platform's refresh: send the request, validate the answer field by field, map it to a TokenSet. */
export interface PlatformProvider {
  /** The channel type it refreshes. */
  readonly platform: string;
  readonly capabilities: PlatformCapabilities;
  /** Resolves with the validated TokenSet; rejects only with a RefreshError. */
  refresh(request: RefreshRequest): Promise<TokenSet>;
}

/** Provider options once `createProviders` has settled the HTTP client. */
export type ResolvedProviderOptions = ProviderOptions & { transport: Transport };

/** One platform's home: its capabilities, and the provider for each of its channels. */
export interface PlatformModule {
  readonly capabilities: PlatformCapabilities;
  /** Builds the platform's provider(s) once; answers the one a channel uses. */
  create(options: ResolvedProviderOptions): (channel: Pick<Channel, "type" | "meta">) => PlatformProvider;
  /**
   * Whether the app credentials its refresh needs are set. @defaultValue whether `apps` holds credentials under the
   * platform's app id
   */
  hasAppCredentials?(options: ProviderOptions): boolean;
}
