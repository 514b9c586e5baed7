import type { PlatformModule } from "../types";
import { threadsCapabilities as capabilities } from "./capabilities";
import { createThreadsProvider } from "./refresh";

export { threadsCapabilities } from "./capabilities";

/** Threads: its own long-lived token refresh, with the token alone and the 24-hour rule. */
export const threads = {
  capabilities,
  create(options) {
    const provider = createThreadsProvider(options);
    return () => provider;
  },
} satisfies PlatformModule;
