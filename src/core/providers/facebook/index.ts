import type { PlatformModule } from "../types";
import { facebookCapabilities as capabilities } from "./capabilities";
import { createMetaProvider } from "./exchange";

export { facebookCapabilities } from "./capabilities";

/** Facebook: Meta's long-lived token exchange. */
export const facebook = {
  capabilities,
  create(options) {
    const provider = createMetaProvider(options, { capabilities });
    return () => provider;
  },
} satisfies PlatformModule;
