import { DAY_MS, platformCapabilities } from "../capabilities";
import { META_APP, META_ENDPOINTS } from "../facebook/capabilities";

export const whatsappCapabilities = platformCapabilities({
  id: "whatsapp",
  displayName: "WhatsApp",
  brandColor: "#25d366",
  rotatesRefreshToken: false,
  mayNotExtend: true,
  refreshesWith: "accessToken",
  expiryLeadMs: 7 * DAY_MS,
  app: META_APP,
  // WhatsApp refreshes through Meta's exchange.
  endpoints: META_ENDPOINTS,
});
