import type { ServerResponse } from "node:http";
import { handleLongLivedRefresh } from "./long-lived";
import type { SimulatorState } from "./state";

/** `GET /refresh_access_token?grant_type=ig_refresh_token&access_token=…`: Instagram Login's refresh. */
export function handleInstagramRefresh(state: SimulatorState, query: URLSearchParams, res: ServerResponse): void {
  handleLongLivedRefresh(state, { platform: "instagram", grantType: "ig_refresh_token", ...state.config.instagram }, query, res);
}
