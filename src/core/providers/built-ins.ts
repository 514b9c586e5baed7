import type { EndpointDeclaration, PlatformCapabilities } from "./capabilities";
import { facebook } from "./facebook";
import { instagram } from "./instagram";
import { threads } from "./threads";
import { tiktok } from "./tiktok";
import type { PlatformModule } from "./types";
import { whatsapp } from "./whatsapp";

/**
 * The built-in platforms, one folder each: where a platform is registered. Adding one is its folder, its line here
 * and its simulator file; everything else derives from this list: the channel types (PLATFORMS), the endpoints and
 * their variables, lead times, names and app credentials in messages.
 */
export const BUILT_IN_MODULES = [instagram, facebook, whatsapp, tiktok, threads] as const satisfies readonly PlatformModule[];

/** The capabilities of a tuple of modules, as a tuple (a mapped type over a type parameter keeps tuples tuples). */
type CapabilitiesOf<T extends readonly PlatformModule[]> = { readonly [I in keyof T]: T[I]["capabilities"] };

/** The built-in platforms' capabilities, in registration order, with their ids and endpoint options as literal types. */
export const BUILT_IN_CAPABILITIES = BUILT_IN_MODULES.map((module) => module.capabilities) as unknown as CapabilitiesOf<typeof BUILT_IN_MODULES>;

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
