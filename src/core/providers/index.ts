import { RefreshError } from "../errors";
import type { Channel, Platform } from "../types";
import { createMetaProvider } from "./facebook";
import { createInstagramProvider } from "./instagram";
import { createTikTokProvider } from "./tiktok";
import { fetchTransport, nodeTransport } from "./http";
import type { PlatformEndpoints, PlatformProvider, ProviderOptions, ResolvedProviderOptions } from "./types";

export type * from "./types";

/** The platforms' real APIs. */
export const DEFAULT_ENDPOINTS: PlatformEndpoints = {
  metaGraphUrl: "https://graph.facebook.com",
  metaGraphVersion: "v25.0",
  instagramGraphUrl: "https://graph.instagram.com",
  tiktokApiUrl: "https://open.tiktokapis.com",
};

// Facebook, Instagram and WhatsApp are refreshed through one Meta app (META_APP_ID): a throttle of the app holds for all.
const META_APP: readonly Platform[] = ["facebook", "instagram", "whatsapp"];

/** The platforms refreshed through the same platform app as `platform` (itself included). */
export function platformsSharingApp(platform: Platform): readonly Platform[] {
  return META_APP.includes(platform) ? META_APP : [platform];
}

export interface Providers {
  /** The provider that refreshes this channel (Instagram via Facebook Login uses Meta's exchange). */
  forChannel(channel: Pick<Channel, "type" | "meta">): PlatformProvider;
  /** Closes the platform connections, ending any call still in flight. */
  close(): Promise<void>;
}

/** One provider per platform, sharing endpoints, app credentials, deadline and HTTP connections. */
export function createProviders(options: ProviderOptions): Providers {
  // Keep-alive connections to each platform, shared by every refresh of this process.
  const own = options.fetch ? undefined : nodeTransport();
  const transport = own ?? fetchTransport(options.fetch!);
  const resolved = { ...options, transport } satisfies ResolvedProviderOptions;
  const providers = {
    facebook: createMetaProvider(resolved, "facebook"),
    whatsapp: createMetaProvider(resolved, "whatsapp"),
    instagramViaFacebook: createMetaProvider(resolved, "instagram"),
    instagram: createInstagramProvider(resolved),
    tiktok: createTikTokProvider(resolved),
  };
  return {
    async close() {
      // Calls still in flight belong to jobs already handed back at shutdown: end them rather than wait.
      own?.close();
    },
    forChannel(channel) {
      switch (channel.type) {
        case "facebook":
          return providers.facebook;
        case "whatsapp":
          return providers.whatsapp;
        case "instagram":
          return channel.meta.connectedVia === "facebook" ? providers.instagramViaFacebook : providers.instagram;
        case "tiktok":
          return providers.tiktok;
        default:
          throw new RefreshError("INVALID_INPUT", { message: `No platform provider for channel type "${String(channel.type)}".` });
      }
    },
  };
}
