import { RefreshError } from "../errors";
import type { Channel } from "../types";
import { BUILT_IN_CAPABILITIES, BUILT_IN_ENDPOINTS, BUILT_IN_MODULES, builtInCapabilities } from "./built-ins";
import type { PlatformCapabilities } from "./capabilities";
import { fetchTransport, nodeTransport } from "./http";
import type { PlatformEndpoints, PlatformModule, PlatformProvider, ProviderOptions, ResolvedProviderOptions } from "./types";

export type * from "./types";
export type { EndpointDeclaration, PlatformCapabilities } from "./capabilities";
export { PLATFORM_ID, PLATFORM_ID_SOURCE } from "./capabilities";
export {
  BUILT_IN_CAPABILITIES,
  BUILT_IN_ENDPOINTS,
  BUILT_IN_MODULES,
  BUILT_IN_PLATFORM_IDS,
  builtInCapabilities,
  type BuiltInEndpointOption,
  type BuiltInPlatform,
} from "./built-ins";

/** The platforms' real APIs: each endpoint's default as its platform declares it. */
export const DEFAULT_ENDPOINTS: PlatformEndpoints = Object.fromEntries(
  BUILT_IN_ENDPOINTS.map((declared) => [declared.option, declared.defaultValue]),
) as PlatformEndpoints;

/**
 * The platforms sharing an app with `platform` (itself included): a throttle of the app holds for all (Facebook,
 * Instagram and WhatsApp share one Meta app).
 */
export function platformsSharingApp(platform: string): readonly string[] {
  const app = builtInCapabilities(platform)?.app.id;
  if (app === undefined) return [platform];
  return BUILT_IN_CAPABILITIES.filter((capabilities) => capabilities.app.id === app).map((capabilities) => capabilities.id);
}

export interface Providers {
  /** The provider that refreshes this channel (Instagram via Facebook Login uses Meta's exchange). */
  forChannel(channel: Pick<Channel, "type" | "meta">): PlatformProvider;
  /** The capabilities of a channel type this instance refreshes; undefined for an unknown type. */
  capabilities(type: string): PlatformCapabilities | undefined;
  /** Every channel type this instance refreshes. */
  readonly platformIds: readonly string[];
  /**
   * Whether a channel type's refresh has the app credentials it needs: "set", "missing" (its channels answer
   * MISSING_APP_CREDENTIALS), or "not needed" (the token alone refreshes, as Instagram Login and Threads).
   */
  appCredentials(type: string): "set" | "missing" | "not needed" | undefined;
  /** Closes the platform connections, ending any call still in flight. */
  close(): Promise<void>;
}

/** One provider per platform, sharing endpoints, app credentials, deadline and HTTP connections. */
export function createProviders(options: ProviderOptions, modules: readonly PlatformModule[] = BUILT_IN_MODULES): Providers {
  // Keep-alive connections to each platform, shared by every refresh of this process.
  const own = options.fetch ? undefined : nodeTransport();
  const transport = own ?? fetchTransport(options.fetch!);
  const resolved = { ...options, transport } satisfies ResolvedProviderOptions;
  const byType = new Map(modules.map((module) => [module.capabilities.id, { module, forChannel: module.create(resolved) }]));
  return {
    platformIds: [...byType.keys()],
    async close() {
      // Calls still in flight belong to jobs already handed back at shutdown: end them rather than wait.
      own?.close();
    },
    capabilities: (type) => byType.get(type)?.module.capabilities,
    appCredentials(type) {
      const module = byType.get(type)?.module;
      if (!module) return undefined;
      if (!module.capabilities.app.neededToRefresh) return "not needed";
      const set = module.hasAppCredentials
        ? module.hasAppCredentials(options)
        : (options.apps as Record<string, unknown>)[module.capabilities.app.id] !== undefined;
      return set ? "set" : "missing";
    },
    forChannel(channel) {
      const entry = byType.get(channel.type);
      if (!entry) {
        throw new RefreshError("INVALID_INPUT", { message: `No platform provider for channel type "${String(channel.type)}".` });
      }
      return entry.forChannel(channel);
    },
  };
}
