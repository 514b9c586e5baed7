import type { ServerResponse } from "node:http";
import { handleLongLivedRefresh } from "./long-lived";
import type { SimulatorState } from "./state";

/** The grant that tells a Threads refresh from Instagram's at the shared path `/refresh_access_token`. */
export const THREADS_GRANT_TYPE = "th_refresh_token";

/**
 * `GET /refresh_access_token?grant_type=th_refresh_token&access_token=…`: Threads' refresh of a long-lived token
 * (https://developers.facebook.com/docs/threads/get-started/long-lived-tokens/): 60 days again, only for tokens at
 * least 24 hours old and unexpired, errors in Graph's shape.
 */
export function handleThreadsRefresh(state: SimulatorState, query: URLSearchParams, res: ServerResponse): void {
  handleLongLivedRefresh(state, { platform: "threads", grantType: THREADS_GRANT_TYPE, ...state.config.threads }, query, res);
}
