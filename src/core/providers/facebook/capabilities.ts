import { DAY_MS, endpoint, platformCapabilities } from "../capabilities";

/** The Meta app that Facebook, Instagram (via Facebook Login) and WhatsApp refresh through. */
export const META_APP = { id: "meta", env: ["META_APP_ID", "META_APP_SECRET"], neededToRefresh: true } as const;

/** Meta's Graph API, where the long-lived token exchange lives: its base URL and the version in its paths. */
export const META_ENDPOINTS = [
  endpoint({
    option: "metaGraphUrl",
    env: "META_GRAPH_URL",
    defaultValue: "https://graph.facebook.com",
    format: "url",
    description: "Meta Graph API base URL",
  }),
  endpoint({
    option: "metaGraphVersion",
    env: "META_GRAPH_VERSION",
    defaultValue: "v25.0",
    format: { pattern: /^v\d+\.\d+$/, example: "v25.0" },
    description: "Graph API version",
  }),
] as const;

export const facebookCapabilities = platformCapabilities({
  id: "facebook",
  displayName: "Facebook",
  brandColor: "#1877f2",
  // Meta answers a new long-lived token each time, but the one sent keeps working: nothing is lost to a crash.
  rotatesRefreshToken: false,
  // Meta cannot extend a long-lived token past its first 60 days: expires_in keeps shrinking.
  mayNotExtend: true,
  refreshesWith: "accessToken",
  // Tokens live 60 days and may not be extendable: refreshing a week early leaves a week to reconnect a channel
  // flagged NOT_EXTENDED.
  expiryLeadMs: 7 * DAY_MS,
  app: META_APP,
  endpoints: META_ENDPOINTS,
});
