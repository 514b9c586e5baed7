import type { PlatformCapabilities } from "./capabilities";
import { facebookCapabilities } from "./facebook/capabilities";
import { instagramCapabilities } from "./instagram/capabilities";
import { tiktokCapabilities } from "./tiktok/capabilities";
import { whatsappCapabilities } from "./whatsapp/capabilities";

/** The seed's four platforms, by channel type. Data only, so that every module may import it without a cycle. */
export const BUILT_IN_CAPABILITIES: readonly PlatformCapabilities[] = [
  instagramCapabilities,
  facebookCapabilities,
  whatsappCapabilities,
  tiktokCapabilities,
];

const byId = new Map(BUILT_IN_CAPABILITIES.map((capabilities) => [capabilities.id, capabilities]));

/** A built-in platform's capabilities; undefined for any other type. */
export function builtInCapabilities(type: string): PlatformCapabilities | undefined {
  return byId.get(type);
}
