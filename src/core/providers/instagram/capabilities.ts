import { DAY_MS, type PlatformCapabilities } from "../capabilities";
import { META_APP } from "../facebook/capabilities";

export const instagramCapabilities: PlatformCapabilities = {
  id: "instagram",
  displayName: "Instagram",
  rotatesRefreshToken: false,
  mayNotExtend: true,
  refreshesWith: "accessToken",
  expiryLeadMs: 7 * DAY_MS,
  // Instagram refuses to refresh a token younger than 24 hours.
  minTokenAgeMs: DAY_MS,
  // Instagram Login refreshes with the token alone; channels connected via Facebook Login use the Meta app.
  app: { ...META_APP, neededToRefresh: false },
};
