/**
 * What the rest of Refresca needs to know about a platform, kept in the platform's own folder so that nothing outside
 * `src/core/providers/` names a platform.
 */
export interface PlatformCapabilities<Id extends string = string, Endpoint extends string = string> {
  /** The channel type, e.g. "tiktok". */
  readonly id: Id;
  /** The name people read in messages and on the dashboard. */
  readonly displayName: string;
  /** The platform's colour on the dashboard's badges (CSS colour); without it, a steady hue from the id. */
  readonly brandColor?: string;
  /**
   * Whether the refresh token is single-use: each refresh answers a new one and the one sent stops working, so a crash
   * after the answer loses the channel. "detect": store a refresh token whenever the answer carries one.
   */
  readonly rotatesRefreshToken: boolean | "detect";
  /** Whether a refresh may succeed without extending the token (Meta past a token's first 60 days): flagged NOT_EXTENDED. */
  readonly mayNotExtend: boolean;
  /** What a refresh presents: Meta's exchange takes the long-lived access token itself; OAuth 2.0 a refresh token. */
  readonly refreshesWith: "accessToken" | "refreshToken";
  /** How long before expiry a refresh is planned (at most a quarter of the time left). */
  readonly expiryLeadMs: number;
  /** The 24-hour rule: the platform refuses to refresh a token younger than this. */
  readonly minTokenAgeMs?: number;
  /** The platform app refreshes go through; platforms sharing an app share its throttles. */
  readonly app: {
    readonly id: string;
    /** The environment variables the entry points read the app credentials from. */
    readonly env: readonly string[];
    /** false: refreshing needs no app credentials (Instagram Login). */
    readonly neededToRefresh: boolean;
  };
  /**
   * Where the platform's API lives: the base URLs (and API version) its provider reads from the endpoints. A platform
   * declares here those it calls, so that DEFAULT_ENDPOINTS, the `endpoints` option's type, the environment variables
   * the entry points read and the simulator's settings all derive from the platforms' folders. Several platforms may
   * declare the same one (Meta's Graph serves Facebook, WhatsApp and Instagram via Facebook Login).
   */
  readonly endpoints?: readonly EndpointDeclaration<Endpoint>[];
}

/** One endpoint setting of a platform: its option, its environment variable and the platform's real value. */
export interface EndpointDeclaration<Option extends string = string> {
  /** Its key in createRefresca's `endpoints` option and in the providers' options, e.g. "threadsGraphUrl". */
  readonly option: Option;
  /** The environment variable the entry points read it from, e.g. "THREADS_GRAPH_URL". */
  readonly env: string;
  /** The platform's real value, used unless tests, demos or benchmarks point it elsewhere (the simulator). */
  readonly defaultValue: string;
  /** "url": an http(s) base URL, trailing slashes dropped; else a value matching `pattern`, e.g. an API version. */
  readonly format: "url" | { readonly pattern: RegExp; readonly example: string };
  /** What it is, as the README's configuration table says it. */
  readonly description: string;
}

/**
 * A platform's capabilities with its channel type and endpoint options kept as literal types, so that the built-in
 * channel types (PLATFORMS) and the `endpoints` option's keys are derived from the platforms' folders.
 */
export function platformCapabilities<const Id extends string, const Endpoint extends string = never>(
  capabilities: PlatformCapabilities<Id, Endpoint>,
): PlatformCapabilities<Id, Endpoint> {
  return capabilities;
}

/** An endpoint declaration with its option name kept as a literal type. */
export function endpoint<const Option extends string>(declaration: EndpointDeclaration<Option>): EndpointDeclaration<Option> {
  return declaration;
}

/**
 * The form of a channel type (a platform's id): DESIGN §2's `^[a-z][a-z0-9-]{1,31}$`. The source without anchors,
 * for patterns that embed it (a URL path, a `type=minutes` pair).
 */
export const PLATFORM_ID_SOURCE = "[a-z][a-z0-9-]{1,31}";
export const PLATFORM_ID = new RegExp(`^${PLATFORM_ID_SOURCE}$`);

export const MINUTE_MS = 60_000;
export const DAY_MS = 24 * 60 * MINUTE_MS;
