import { DAY_MS } from "../capabilities";
import { createLongLivedTokenProvider } from "../long-lived-token";
import type { PlatformProvider, ResolvedProviderOptions as Options } from "../types";
import { THREADS_GRAPH, threadsCapabilities as capabilities } from "./capabilities";

/**
 * Threads' refresh: `GET {THREADS_GRAPH_URL}/refresh_access_token?grant_type=th_refresh_token&access_token=<long-lived
 * token>`, no app credentials, 60 days from each refresh, refused in a token's first 24 hours
 * (https://developers.facebook.com/docs/threads/get-started/long-lived-tokens/). Errors are read in Meta's Graph shape
 * (`{error: {message, type, code, error_subcode, fbtrace_id}}`): DESIGN.md §2, unconfirmed — the Threads pages found
 * show no error body of this endpoint.
 */
export function createThreadsProvider(options: Options): PlatformProvider {
  return createLongLivedTokenProvider(options, {
    capabilities,
    endpoint: THREADS_GRAPH,
    grantType: "th_refresh_token",
    lifetimeMs: 60 * DAY_MS,
  });
}
