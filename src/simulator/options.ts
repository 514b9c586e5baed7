import type { OAuth2SimOptions } from "./oauth2";
/**
 * The platforms the simulator plays. Facebook and WhatsApp share Meta's exchange endpoint; Instagram and Threads share
 * the path `/refresh_access_token`, told apart by `grant_type`.
 */
export type SimPlatform = "facebook" | "instagram" | "whatsapp" | "tiktok" | "threads";
export const SIM_PLATFORMS: readonly SimPlatform[] = ["facebook", "instagram", "whatsapp", "tiktok", "threads"];

export const SIM_META_APP_ID = "sim-meta-app";
export const SIM_META_APP_SECRET = "sim-meta-secret";
export const SIM_TIKTOK_CLIENT_KEY = "sim-tiktok-key";
export const SIM_TIKTOK_CLIENT_SECRET = "sim-tiktok-secret";

const DAY = 86_400;

export interface MetaSimOptions {
  /** @defaultValue SIM_META_APP_ID */
  appId: string;
  /** @defaultValue SIM_META_APP_SECRET */
  appSecret: string;
  /** Lifetime of a long-lived token. @defaultValue 60 days */
  tokenLifetimeSeconds: number;
  /**
   * true: each exchange gives a full new lifetime. false: the new token keeps the original grant's expiry, so
   * `expires_in` keeps shrinking, as Meta does with long-lived user tokens. @defaultValue true
   */
  extends: boolean;
  /** Leave `expires_in` out of successful answers (Meta sometimes does). @defaultValue false */
  omitExpiresIn: boolean;
}

export interface InstagramSimOptions {
  /** @defaultValue 60 days */
  tokenLifetimeSeconds: number;
  /** A token younger than this is refused. @defaultValue 86400 (24 h) */
  minAgeSeconds: number;
}

export interface ThreadsSimOptions {
  /** @defaultValue 60 days */
  tokenLifetimeSeconds: number;
  /** A token younger than this is refused. @defaultValue 86400 (24 h) */
  minAgeSeconds: number;
}

export interface TikTokSimOptions {
  /** @defaultValue SIM_TIKTOK_CLIENT_KEY */
  clientKey: string;
  /** @defaultValue SIM_TIKTOK_CLIENT_SECRET */
  clientSecret: string;
  /** @defaultValue 86400 (24 h) */
  accessLifetimeSeconds: number;
  /** @defaultValue 365 days */
  refreshLifetimeSeconds: number;
  /**
   * Fields set to these values in successful refresh answers (after the rotation happened), e.g. `{ scope: null }`:
   * a platform whose answer changed shape. @defaultValue {}
   */
  replaceFields: Record<string, unknown>;
  /** Fields left out of successful refresh answers, e.g. `["refresh_expires_in"]`. @defaultValue [] */
  omitFields: string[];
  /**
   * The app's quota: refresh calls taken in any one-minute sliding window before TikTok answers 429
   * `rate_limit_exceeded`, for every channel of the app alike (TikTok's documented default for its v2 APIs is 600).
   * null: no quota. @defaultValue null
   */
  requestsPerMinute: number | null;
}

/** Added delay before a platform endpoint answers: one figure for all, or per platform. */
export type LatencyOption = number | Partial<Record<SimPlatform, number>>;

/** What can change while the simulator runs. */
export interface SimulatorConfig {
  /** @defaultValue 0 */
  latencyMs: LatencyOption;
  meta: MetaSimOptions;
  instagram: InstagramSimOptions;
  tiktok: TikTokSimOptions;
  threads: ThreadsSimOptions;
}

/** A partial configuration, for `configure()`; nested objects are merged. */
export interface SimulatorConfigPatch {
  latencyMs?: LatencyOption;
  meta?: Partial<MetaSimOptions>;
  instagram?: Partial<InstagramSimOptions>;
  tiktok?: Partial<TikTokSimOptions>;
  threads?: Partial<ThreadsSimOptions>;
}

export interface SimulatorOptions extends SimulatorConfigPatch {
  /** Generic OAuth 2.0 token endpoints, by provider id (`POST /oauth2/<id>/token`). @defaultValue none */
  oauth2?: OAuth2SimOptions;
  /** @defaultValue 0 (a free port) */
  port?: number;
  /** @defaultValue "127.0.0.1" */
  host?: string;
}

export function defaultConfig(): SimulatorConfig {
  return {
    latencyMs: 0,
    meta: {
      appId: SIM_META_APP_ID,
      appSecret: SIM_META_APP_SECRET,
      tokenLifetimeSeconds: 60 * DAY,
      extends: true,
      omitExpiresIn: false,
    },
    instagram: { tokenLifetimeSeconds: 60 * DAY, minAgeSeconds: DAY },
    tiktok: {
      clientKey: SIM_TIKTOK_CLIENT_KEY,
      clientSecret: SIM_TIKTOK_CLIENT_SECRET,
      accessLifetimeSeconds: DAY,
      refreshLifetimeSeconds: 365 * DAY,
      replaceFields: {},
      omitFields: [],
      requestsPerMinute: null,
    },
    threads: { tokenLifetimeSeconds: 60 * DAY, minAgeSeconds: DAY },
  };
}

export function mergeConfig(base: SimulatorConfig, patch: SimulatorConfigPatch): SimulatorConfig {
  return {
    latencyMs: patch.latencyMs ?? base.latencyMs,
    meta: { ...base.meta, ...patch.meta },
    instagram: { ...base.instagram, ...patch.instagram },
    tiktok: { ...base.tiktok, ...patch.tiktok },
    threads: { ...base.threads, ...patch.threads },
  };
}

export function latencyFor(config: SimulatorConfig, platform: SimPlatform): number {
  return typeof config.latencyMs === "number" ? config.latencyMs : (config.latencyMs[platform] ?? 0);
}
