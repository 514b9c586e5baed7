import type { EndpointDeclaration, PlatformCapabilities } from "./capabilities";
import { facebookCapabilities } from "./facebook/capabilities";
import { instagramCapabilities } from "./instagram/capabilities";
import { threadsCapabilities } from "./threads/capabilities";
import { tiktokCapabilities } from "./tiktok/capabilities";
import { whatsappCapabilities } from "./whatsapp/capabilities";

/**
 * The built-in platforms, by channel type: where a platform is registered. Data only (each folder's capabilities.ts),
 * so that every file may import it without a cycle — classify.ts falls back to it, and each platform's provider imports
 * classify.ts. providers/index.ts pairs each one with its module, and the compiler checks that none is missing there.
 * Everything else derives from this list: the channel types (PLATFORMS), the endpoints and their variables.
 */
export const BUILT_IN_CAPABILITIES = [
  instagramCapabilities,
  facebookCapabilities,
  whatsappCapabilities,
  tiktokCapabilities,
  threadsCapabilities,
] as const;

type BuiltIns = typeof BUILT_IN_CAPABILITIES;

/** The ids of a tuple of capabilities, as a tuple (a mapped type over a type parameter keeps tuples tuples). */
type IdsOf<T extends readonly PlatformCapabilities[]> = { readonly [I in keyof T]: T[I] extends PlatformCapabilities<infer Id> ? Id : never };

/** The built-in channel types, in registration order, as literal types. */
export type BuiltInPlatformIds = IdsOf<BuiltIns>;
export type BuiltInPlatform = BuiltInPlatformIds[number];

/** The built-in channel types, e.g. for a zod enum. */
export const BUILT_IN_PLATFORM_IDS = BUILT_IN_CAPABILITIES.map((capabilities) => capabilities.id) as unknown as BuiltInPlatformIds;

const byId = new Map<string, PlatformCapabilities>(BUILT_IN_CAPABILITIES.map((capabilities) => [capabilities.id, capabilities]));

/** A built-in platform's capabilities; undefined for any other type. */
export function builtInCapabilities(type: string): PlatformCapabilities | undefined {
  return byId.get(type);
}

/** The keys of the `endpoints` option: every endpoint some built-in platform declares. */
export type BuiltInEndpointOption = BuiltIns[number] extends infer C ? (C extends PlatformCapabilities<string, infer E> ? E : never) : never;

/**
 * Every endpoint the built-in platforms declare, once each (Meta's Graph is declared by each platform that calls it).
 * Two platforms declaring one option differently is a programming error, refused as this file loads.
 */
export const BUILT_IN_ENDPOINTS: readonly EndpointDeclaration<BuiltInEndpointOption>[] = (() => {
  const byOption = new Map<string, EndpointDeclaration<BuiltInEndpointOption>>();
  for (const declared of BUILT_IN_CAPABILITIES.flatMap((capabilities): readonly EndpointDeclaration<BuiltInEndpointOption>[] => capabilities.endpoints ?? [])) {
    const known = byOption.get(declared.option);
    if (known && (known.env !== declared.env || known.defaultValue !== declared.defaultValue)) {
      throw new Error(`Endpoint "${declared.option}" is declared twice with different variables or defaults.`);
    }
    if (!known) byOption.set(declared.option, declared);
  }
  return [...byOption.values()];
})();
