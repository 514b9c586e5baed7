import { DAY_MS, endpoint, platformCapabilities } from "../capabilities";
import { META_APP, META_ENDPOINTS } from "../facebook/capabilities";

/** Instagram Login's API, where its own refresh lives. */
export const INSTAGRAM_GRAPH = endpoint({
  option: "instagramGraphUrl",
  env: "INSTAGRAM_GRAPH_URL",
  defaultValue: "https://graph.instagram.com",
  format: "url",
  description: "Instagram API base URL",
});

export const instagramCapabilities = platformCapabilities({
  id: "instagram",
  displayName: "Instagram",
  brandColor: "#d62976",
  rotatesRefreshToken: false,
  mayNotExtend: true,
  refreshesWith: "accessToken",
  expiryLeadMs: 7 * DAY_MS,
  // Instagram refuses to refresh a token younger than 24 hours.
  minTokenAgeMs: DAY_MS,
  // Instagram Login refreshes with the token alone; channels connected via Facebook Login use the Meta app.
  app: { ...META_APP, neededToRefresh: false },
  // Its own refresh, and Meta's exchange for accounts connected through Facebook Login.
  endpoints: [...META_ENDPOINTS, INSTAGRAM_GRAPH],
});
