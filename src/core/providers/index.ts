import { RefreshError } from "../errors";
import type { Channel } from "../types";
import { BUILT_IN_CAPABILITIES, BUILT_IN_ENDPOINTS, builtInCapabilities, type BuiltInPlatform } from "./built-ins";
import type { PlatformCapabilities } from "./capabilities";
import { facebook } from "./facebook";
import { fetchTransport, nodeTransport } from "./http";
import { instagram } from "./instagram";
import { threads } from "./threads";
import { tiktok } from "./tiktok";
import type { PlatformEndpoints, PlatformModule, PlatformProvider, ProviderOptions, ResolvedProviderOptions } from "./types";
import { whatsapp } from "./whatsapp";

export type * from "./types";
export type { EndpointDeclaration, PlatformCapabilities } from "./capabilities";
export {
  BUILT_IN_CAPABILITIES,
  BUILT_IN_ENDPOINTS,
  BUILT_IN_PLATFORM_IDS,
  builtInCapabilities,
  type BuiltInEndpointOption,
  type BuiltInPlatform,
} from "./built-ins";

/**
 * Each built-in platform's module, by channel type. A platform is registered in built-ins.ts (its capabilities, as
 * data); its module is added here, and the type makes a missing or unknown one a compile error.
 */
const MODULES: { readonly [Id in BuiltInPlatform]: PlatformModule } = { instagram, facebook, whatsapp, tiktok, threads };

/** The built-in platforms' modules, in registration order. */
export const BUILT_IN_MODULES: readonly PlatformModule[] = BUILT_IN_CAPABILITIES.map((capabilities) => {
  const module = MODULES[capabilities.id];
  // A module must describe itself with the capabilities registered for it, or the registry would say two things.
  if (module.capabilities !== capabilities) throw new Error(`The "${capabilities.id}" module does not carry its registered capabilities.`);
  return module;
});

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
    forChannel(channel) {
      const entry = byType.get(channel.type);
      if (!entry) {
        throw new RefreshError("INVALID_INPUT", { message: `No platform provider for channel type "${String(channel.type)}".` });
      }
      return entry.forChannel(channel);
    },
  };
}
