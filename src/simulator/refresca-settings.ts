import type { AppCredentials, PlatformEndpoints } from "../core/providers/types";
import { SIM_META_APP_ID, SIM_META_APP_SECRET, SIM_TIKTOK_CLIENT_KEY, SIM_TIKTOK_CLIENT_SECRET } from "./options";

/** What a Refresca needs to talk to a simulator at `url`: that URL for every platform, and the simulator's apps. */
export function refrescaSettingsFor(url: string): {
  endpoints: Pick<PlatformEndpoints, "metaGraphUrl" | "instagramGraphUrl" | "tiktokApiUrl">;
  apps: Required<AppCredentials>;
} {
  return {
    endpoints: { metaGraphUrl: url, instagramGraphUrl: url, tiktokApiUrl: url },
    apps: {
      meta: { appId: SIM_META_APP_ID, appSecret: SIM_META_APP_SECRET },
      tiktok: { clientKey: SIM_TIKTOK_CLIENT_KEY, clientSecret: SIM_TIKTOK_CLIENT_SECRET },
    },
  };
}

/** The same settings as the environment variables a Refresca process (worker, web) reads. */
export function refrescaEnvFor(url: string): Record<string, string> {
  return {
    META_GRAPH_URL: url,
    INSTAGRAM_GRAPH_URL: url,
    TIKTOK_API_URL: url,
    META_APP_ID: SIM_META_APP_ID,
    META_APP_SECRET: SIM_META_APP_SECRET,
    TIKTOK_CLIENT_KEY: SIM_TIKTOK_CLIENT_KEY,
    TIKTOK_CLIENT_SECRET: SIM_TIKTOK_CLIENT_SECRET,
  };
}
