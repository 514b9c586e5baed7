import { DAY_MS, type PlatformCapabilities } from "../capabilities";

/** The Meta app that Facebook, Instagram (via Facebook Login) and WhatsApp refresh through. */
export const META_APP = { id: "meta", env: ["META_APP_ID", "META_APP_SECRET"], neededToRefresh: true } as const;

export const facebookCapabilities: PlatformCapabilities = {
  id: "facebook",
  displayName: "Facebook",
  // Meta answers a new long-lived token each time, but the one sent keeps working: nothing is lost to a crash.
  rotatesRefreshToken: false,
  // Meta cannot extend a long-lived token past its first 60 days: expires_in keeps shrinking.
  mayNotExtend: true,
  refreshesWith: "accessToken",
  // Tokens live 60 days and may not be extendable: refreshing a week early leaves a week to reconnect a channel
  // flagged NOT_EXTENDED.
  expiryLeadMs: 7 * DAY_MS,
  app: META_APP,
};
