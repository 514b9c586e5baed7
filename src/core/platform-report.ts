import { builtInCapabilities, type Providers } from "./providers";
import { OAUTH2_PRESETS } from "./providers/oauth2";
import type { Store } from "./store";

/** One channel type this deployment refreshes, with what its refresh needs and how many channels depend on it. */
export interface PlatformReportRow {
  type: string;
  name: string;
  source: "built-in" | "preset" | "configured";
  /** "missing": its channels answer MISSING_APP_CREDENTIALS until the variables are set. */
  appCredentials: "set" | "missing" | "not needed";
  /** The variables the app credentials are read from. */
  variables: readonly string[];
  channels: number;
  active: number;
}

/** Channels of a type this deployment does not refresh (its provider was removed from the configuration). */
export interface UnconfiguredTypeRow {
  type: string;
  channels: number;
  active: number;
}

/**
 * What `refresca providers` reports: every channel type this deployment refreshes, and the types stored channels have
 * that it does not — the two ways a configuration leaves channels without working refreshes.
 */
export async function platformReport(deps: { store: Store; providers: Providers }) {
  const { store, providers } = deps;
  const counts = new Map((await store.listing.countsByType()).map((row) => [row.type, row]));
  const presets = new Set<string>(OAUTH2_PRESETS.map((preset) => preset.id));
  const platforms: PlatformReportRow[] = providers.platformIds.map((type) => {
    const capabilities = providers.capabilities(type)!;
    return {
      type,
      name: capabilities.displayName,
      source: builtInCapabilities(type) ? "built-in" : presets.has(type) ? "preset" : "configured",
      appCredentials: providers.appCredentials(type)!,
      variables: capabilities.app.env,
      channels: counts.get(type)?.channels ?? 0,
      active: counts.get(type)?.active ?? 0,
    };
  });
  const unconfigured: UnconfiguredTypeRow[] = [...counts.values()]
    .filter((row) => !providers.platformIds.includes(row.type))
    .map(({ type, channels, active }) => ({ type, channels, active }));
  return { platforms, unconfigured };
}
