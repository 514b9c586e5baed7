import type { PlatformModule } from "../types";
import { tiktokCapabilities as capabilities } from "./capabilities";
import { createTikTokProvider } from "./refresh";

/** TikTok v2: the OAuth refresh_token grant, with a rotating refresh token. */
export const tiktok = {
  capabilities,
  create(options) {
    const provider = createTikTokProvider(options);
    return () => provider;
  },
} satisfies PlatformModule;
