import { DAY_MS, type PlatformCapabilities } from "../capabilities";
import { META_APP } from "../facebook/capabilities";

export const whatsappCapabilities: PlatformCapabilities = {
  id: "whatsapp",
  displayName: "WhatsApp",
  rotatesRefreshToken: false,
  mayNotExtend: true,
  refreshesWith: "accessToken",
  expiryLeadMs: 7 * DAY_MS,
  app: META_APP,
};
