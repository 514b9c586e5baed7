import { createMetaProvider } from "../facebook/exchange";
import type { PlatformModule } from "../types";
import { instagramCapabilities as capabilities } from "./capabilities";
import { createInstagramProvider } from "./refresh";

/** Instagram: Instagram Login's own refresh, or Meta's exchange for accounts connected through Facebook Login. */
export const instagram = {
  capabilities,
  create(options) {
    const own = createInstagramProvider(options);
    const viaFacebook = createMetaProvider(options, { capabilities });
    // Which login connected the account is kept in the channel's meta.
    return (channel) => (channel.meta.connectedVia === "facebook" ? viaFacebook : own);
  },
} satisfies PlatformModule;
