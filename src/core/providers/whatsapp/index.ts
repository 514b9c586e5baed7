import { createMetaProvider } from "../facebook/exchange";
import type { PlatformModule } from "../types";
import { whatsappCapabilities as capabilities } from "./capabilities";

/** WhatsApp Cloud API: Meta's exchange, asking for a 60-day system-user token. */
export const whatsapp = {
  capabilities,
  create(options) {
    const provider = createMetaProvider(options, { capabilities, extraParams: { set_token_expires_in_60_days: "true" } });
    return () => provider;
  },
} satisfies PlatformModule;
