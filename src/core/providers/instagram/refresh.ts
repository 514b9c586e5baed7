import { DAY_MS } from "../capabilities";
import { createLongLivedTokenProvider } from "../long-lived-token";
import type { PlatformProvider, ResolvedProviderOptions as Options } from "../types";
import { INSTAGRAM_GRAPH, instagramCapabilities as capabilities } from "./capabilities";

/**
 * Instagram Login's own refresh: `GET {INSTAGRAM_GRAPH_URL}/refresh_access_token?grant_type=ig_refresh_token`, with the
 * long-lived token alone (no app credentials); tokens live 60 days from each refresh and refuse one in their first
 * 24 hours.
 */
export function createInstagramProvider(options: Options): PlatformProvider {
  return createLongLivedTokenProvider(options, {
    capabilities,
    endpoint: INSTAGRAM_GRAPH,
    grantType: "ig_refresh_token",
    lifetimeMs: 60 * DAY_MS,
  });
}
