import { RefreshError } from "../errors";
import type { Channel } from "../types";
import { createMetaProvider } from "./facebook";
import { createInstagramProvider } from "./instagram";
import { createTikTokProvider } from "./tiktok";
import type { PlatformEndpoints, PlatformProvider, ProviderOptions } from "./types";

export type * from "./types";

/** The platforms' real APIs. */
export const DEFAULT_ENDPOINTS: PlatformEndpoints = {
  metaGraphUrl: "https://graph.facebook.com",
  metaGraphVersion: "v25.0",
  instagramGraphUrl: "https://graph.instagram.com",
  tiktokApiUrl: "https://open.tiktokapis.com",
};

export interface Providers {
  /** The provider that refreshes this channel (Instagram via Facebook Login uses Meta's exchange). */
  forChannel(channel: Pick<Channel, "type" | "meta">): PlatformProvider;
}

/** One provider per platform, sharing endpoints, app credentials, deadline and fetch. */
export function createProviders(options: ProviderOptions): Providers {
  // Looked up at call time, so a fetch replaced after start-up (instrumentation) is still used.
  const resolved = { ...options, fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)) } satisfies ProviderOptions;
  const providers = {
    facebook: createMetaProvider(resolved, "facebook"),
    whatsapp: createMetaProvider(resolved, "whatsapp"),
    instagramViaFacebook: createMetaProvider(resolved, "instagram"),
    instagram: createInstagramProvider(resolved),
    tiktok: createTikTokProvider(resolved),
  };
  return {
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
