import { endpoint, MINUTE_MS, platformCapabilities } from "../capabilities";

/** TikTok's Open API, where the v2 OAuth token endpoint lives. */
export const TIKTOK_API = endpoint({
  option: "tiktokApiUrl",
  env: "TIKTOK_API_URL",
  defaultValue: "https://open.tiktokapis.com",
  format: "url",
  description: "TikTok API base URL",
});

export const tiktokCapabilities = platformCapabilities({
  id: "tiktok",
  displayName: "TikTok",
  brandColor: "#111",
  // TikTok rotates the refresh token: the one just sent stops working.
  rotatesRefreshToken: true,
  mayNotExtend: false,
  refreshesWith: "refreshToken",
  // Access tokens live hours: refresh shortly before expiry.
  expiryLeadMs: 10 * MINUTE_MS,
  app: { id: "tiktok", env: ["TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"], neededToRefresh: true },
  endpoints: [TIKTOK_API],
});
