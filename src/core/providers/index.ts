import { RefreshError } from "../errors";
import type { Channel } from "../types";
import { BUILT_IN_CAPABILITIES, builtInCapabilities } from "./built-ins";
import type { PlatformCapabilities } from "./capabilities";
import { facebook } from "./facebook";
import { fetchTransport, nodeTransport } from "./http";
import { instagram } from "./instagram";
import { tiktok } from "./tiktok";
import type { PlatformEndpoints, PlatformModule, PlatformProvider, ProviderOptions, ResolvedProviderOptions } from "./types";
import { whatsapp } from "./whatsapp";

export type * from "./types";
export type { PlatformCapabilities } from "./capabilities";
export { BUILT_IN_CAPABILITIES, builtInCapabilities } from "./built-ins";

/** The platforms' real APIs. */
export const DEFAULT_ENDPOINTS: PlatformEndpoints = {
  metaGraphUrl: "https://graph.facebook.com",
  metaGraphVersion: "v25.0",
  instagramGraphUrl: "https://graph.instagram.com",
  tiktokApiUrl: "https://open.tiktokapis.com",
};

/** The seed's platforms, one folder each. Adding one is a folder here and its line below. */
export const BUILT_IN_MODULES: readonly PlatformModule[] = [instagram, facebook, whatsapp, tiktok];

/** The built-in channel types. */
export const BUILT_IN_PLATFORM_IDS: readonly string[] = BUILT_IN_CAPABILITIES.map((capabilities) => capabilities.id);

/**
 * The platforms refreshed through the same platform app as `platform` (itself included): a throttle of the app holds
 * for all (Facebook, Instagram and WhatsApp share one Meta app).
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
