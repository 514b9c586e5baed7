import { BUILT_IN_ENDPOINTS } from "../core/providers/built-ins";
import type { AppCredentials, PlatformEndpoints } from "../core/providers/types";
import { SIM_META_APP_ID, SIM_META_APP_SECRET, SIM_TIKTOK_CLIENT_KEY, SIM_TIKTOK_CLIENT_SECRET } from "./options";

// The simulator serves every platform on one base URL: each base URL a platform declares points there (an API version
// keeps its default, which the simulator accepts).
const BASE_URLS = BUILT_IN_ENDPOINTS.filter((declared) => declared.format === "url");

/** What a Refresca needs to talk to a simulator at `url`: that URL for every platform, and the simulator's apps. */
export function refrescaSettingsFor(url: string): {
  endpoints: Partial<PlatformEndpoints>;
  apps: Required<AppCredentials>;
} {
  return {
    endpoints: Object.fromEntries(BASE_URLS.map((declared) => [declared.option, url])),
    apps: {
      meta: { appId: SIM_META_APP_ID, appSecret: SIM_META_APP_SECRET },
      tiktok: { clientKey: SIM_TIKTOK_CLIENT_KEY, clientSecret: SIM_TIKTOK_CLIENT_SECRET },
    },
  };
}

/** The base URL variables to point at a simulator at `url` (META_GRAPH_URL, THREADS_GRAPH_URL, …). */
export function simulatorUrlEnv(url: string): Record<string, string> {
  return Object.fromEntries(BASE_URLS.map((declared) => [declared.env, url]));
}

/** The same settings as the environment variables a Refresca process (worker, web) reads. */
export function refrescaEnvFor(url: string): Record<string, string> {
  return {
    ...simulatorUrlEnv(url),
    META_APP_ID: SIM_META_APP_ID,
    META_APP_SECRET: SIM_META_APP_SECRET,
    TIKTOK_CLIENT_KEY: SIM_TIKTOK_CLIENT_KEY,
    TIKTOK_CLIENT_SECRET: SIM_TIKTOK_CLIENT_SECRET,
  };
}
