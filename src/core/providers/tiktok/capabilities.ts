import { MINUTE_MS, type PlatformCapabilities } from "../capabilities";

export const tiktokCapabilities: PlatformCapabilities = {
  id: "tiktok",
  displayName: "TikTok",
  // TikTok rotates the refresh token: the one just sent stops working.
  rotatesRefreshToken: true,
  mayNotExtend: false,
  refreshesWith: "refreshToken",
  // Access tokens live hours: refresh shortly before expiry.
  expiryLeadMs: 10 * MINUTE_MS,
  app: { id: "tiktok", env: ["TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"], neededToRefresh: true },
};
