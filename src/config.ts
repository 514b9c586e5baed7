import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { DEFAULT_API_RATE_LIMIT, type ApiRateLimit } from "./core/access/rate-limit";
import { loadOrCreateLocalKeyFile, loadOrCreateLocalSecret, parseKeyRing } from "./core/crypto";
import { BUILT_IN_ENDPOINTS, BUILT_IN_PLATFORM_IDS, PLATFORM_ID_SOURCE, type EndpointDeclaration } from "./core/providers";
import { DEFAULT_QUEUE_SETTINGS } from "./core/queue/settings";
import { OAUTH2_PRESETS, parseProviderConfigs, ProviderConfigError, type OAuth2ProviderInput } from "./core/providers/oauth2";
import type { AppCredentials, PlatformEndpoints } from "./core/providers/types";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** The process configuration, read from the environment by the entry points only. */
export interface RefrescaConfig {
  /** Unset: an embedded PostgreSQL kept in `dataDir`. */
  databaseUrl?: string;
  /** @defaultValue "redis://localhost:6379" */
  redisUrl: string;
  /** Absolute. @defaultValue "./data" resolved against the working directory */
  dataDir: string;
  /** Validated `kid:base64` entries; unset is resolved by {@link resolveEncryptionKeys}. */
  encryptionKeys?: string;
  apps: AppCredentials;
  /**
   * Generic OAuth 2.0 providers from REFRESCA_PROVIDERS_FILE (JSON or YAML), their `clientIdEnv`/`clientSecretEnv`
   * resolved from the environment into `clientId`/`clientSecret`. @defaultValue none
   */
  providers: OAuth2ProviderInput[];
  endpoints: PlatformEndpoints;
  /** @defaultValue "info" */
  logLevel: (typeof LOG_LEVELS)[number];
  /** @defaultValue 10000 */
  platformTimeoutMs: number;
  /** PostgreSQL schema of the tables (REFRESCA_DB_SCHEMA). @defaultValue "refresca" */
  schema: string;
  /** Prefix of every Redis key (REFRESCA_KEY_PREFIX). @defaultValue "refresca:" */
  keyPrefix: string;
  /**
   * Job retries and retention (REFRESCA_JOB_ATTEMPTS, REFRESCA_JOB_BACKOFF_MS, REFRESCA_KEEP_COMPLETED,
   * REFRESCA_KEEP_FAILED) and the plan: the backoff after transient failures (REFRESCA_RETRY_BASE_MS,
   * REFRESCA_RETRY_CAP_MS), the schedulers' tick and claim (REFRESCA_SCHEDULER_INTERVAL_MS, REFRESCA_CLAIM_BATCH) and
   * lead times per channel type (REFRESCA_EXPIRY_LEAD_MINUTES).
   */
  queue: {
    attempts: number;
    backoffMs: number;
    keepCompleted: number;
    keepFailed: number;
    retryBaseMs: number;
    retryCapMs: number;
    schedulerIntervalMs: number;
    claimBatch: number;
    expiryLeadMs?: Record<string, number>;
  };
  /**
   * The worker process (REFRESCA_WORKER_CONCURRENCY, REFRESCA_LOCK_DURATION_MS, REFRESCA_SHUTDOWN_TIMEOUT_MS,
   * METRICS_PORT, METRICS_HOST — the metrics' address, @defaultValue "127.0.0.1").
   */
  worker: { concurrency: number; lockDurationMs: number; shutdownTimeoutMs: number; metricsPort?: number; metricsHost: string };
  /** The web app (dashboard and server actions). */
  web: WebConfig;
  /** The REST API: each key's request rate (REFRESCA_API_RATE_LIMIT). */
  api: { rateLimit: ApiRateLimit };
  /**
   * Webhooks (REFRESCA_WEBHOOKS_ALLOW_PRIVATE, REFRESCA_WEBHOOKS_RETRY_BASE_MS, REFRESCA_WEBHOOKS_FAILING_AFTER_MINUTES):
   * @defaultValue private addresses refused, first retry after 30 s, refresh_failing after 30 minutes
   */
  webhooks: { allowPrivate: boolean; retryBaseMs: number; failingAfterMs: number };
}

/** The web process: where it listens, how sessions are signed, who may sign in as admin. */
export interface WebConfig {
  /** PORT. @defaultValue 3000 */
  port: number;
  /** HOST: the address to listen on. @defaultValue "0.0.0.0" */
  host: string;
  /** REFRESCA_SESSION_SECRET (≥ 32 characters); unset is resolved by {@link resolveSessionSecret}. */
  sessionSecret?: string;
  /** REFRESCA_ADMIN_KEY (≥ 32 characters): signs in as an admin who may act for any tenant. Unset: no admin. */
  adminKey?: string;
  /** REFRESCA_TRUST_PROXY: take the client address and scheme from X-Forwarded-For/-Proto. @defaultValue false */
  trustProxy: boolean;
}

/** A configuration that cannot run; the message lists every bad variable and why, never a secret's value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `Invalid configuration:\n- ${problems.join("\n- ")}`);
    this.name = "ConfigError";
  }
}

// Messages are written here so zod never echoes a submitted value (URLs and keys carry secrets).
const text = z.string();
const urlWith = (name: string, schemes: string[]) =>
  text.refine((value) => schemes.includes(safeUrl(value)?.protocol ?? ""), {
    error: `${name} must be a ${schemes.map((s) => `${s}//`).join(" or ")} URL`,
  });
const httpUrl = (name: string) =>
  urlWith(name, ["http:", "https:"]).transform((value) => value.replace(/\/+$/, ""));

/** A whole number from the environment, with the variable's name in every message. */
const wholeNumber = (name: string, min: number, max: number) =>
  text
    .regex(/^\d+$/, { error: `${name} must be a whole number` })
    .transform(Number)
    .pipe(z.number().min(min, { error: `${name} must be at least ${min}` }).max(max, { error: `${name} must be at most ${max}` }));

// `<type>=<minutes>` pairs, e.g. `tiktok=30,acme=15`: how long before expiry each channel type's refresh is planned.
const LEAD_ENTRY = new RegExp(`^(${PLATFORM_ID_SOURCE})=(\\d{1,6})$`);
const expiryLeads = text.transform((value, ctx) => {
  const leads: Record<string, number> = {};
  for (const [index, entry] of value.split(",").map((part) => part.trim()).entries()) {
    const match = LEAD_ENTRY.exec(entry);
    if (!match || Number(match[2]) < 1) {
      ctx.addIssue({
        code: "custom",
        message: `REFRESCA_EXPIRY_LEAD_MINUTES: entry ${index + 1} is not <channel type>=<minutes of at least 1>, e.g. tiktok=30,acme=15`,
      });
      return z.NEVER;
    }
    leads[match[1]!] = Number(match[2]) * 60_000;
  }
  return leads;
});

// `<requests>/s,<burst>`, e.g. `100/s,500`: a key keeps up 100 requests a second and, rested, may send 500 at once.
const RATE_LIMIT = /^(\d{1,6})\/s\s*,\s*(\d{1,7})$/;
const rateLimit = text
  .regex(RATE_LIMIT, { error: "REFRESCA_API_RATE_LIMIT must look like 100/s,500 (requests per second, then the burst)" })
  .transform((value) => {
    const [, perSecond, burst] = RATE_LIMIT.exec(value)!;
    return { perSecond: Number(perSecond), burst: Number(burst) };
  })
  .refine((limit) => limit.perSecond >= 1 && limit.burst >= 1, { error: "REFRESCA_API_RATE_LIMIT needs a rate and a burst of at least 1" });

const schema = z
  .object({
    DATABASE_URL: urlWith("DATABASE_URL", ["postgres:", "postgresql:"]).optional(),
    REDIS_URL: urlWith("REDIS_URL", ["redis:", "rediss:"]).default("redis://localhost:6379"),
    REFRESCA_DATA_DIR: text.default("./data").transform((dir) => path.resolve(dir)),
    REFRESCA_ENCRYPTION_KEYS: text.superRefine((spec, ctx) => {
      try {
        parseKeyRing(spec);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
      }
    }).optional(),
    META_APP_ID: text.optional(),
    META_APP_SECRET: text.optional(),
    TIKTOK_CLIENT_KEY: text.optional(),
    TIKTOK_CLIENT_SECRET: text.optional(),
    TIKTOK_APP_ID: text.optional(),
    TIKTOK_APP_SECRET: text.optional(),
    REFRESCA_PROVIDERS_FILE: text.optional(),
    LOG_LEVEL: z.enum(LOG_LEVELS, { error: `LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
    REFRESCA_PLATFORM_TIMEOUT_MS: text
      .regex(/^\d+$/, { error: "REFRESCA_PLATFORM_TIMEOUT_MS must be a whole number of milliseconds" })
      .transform(Number)
      .pipe(
        z.number().min(100, { error: "REFRESCA_PLATFORM_TIMEOUT_MS must be at least 100" })
          .max(120_000, { error: "REFRESCA_PLATFORM_TIMEOUT_MS must be at most 120000" }),
      )
      .default(10_000),
    REFRESCA_WORKER_CONCURRENCY: wholeNumber("REFRESCA_WORKER_CONCURRENCY", 1, 500).default(3),
    REFRESCA_JOB_ATTEMPTS: wholeNumber("REFRESCA_JOB_ATTEMPTS", 1, 20).default(3),
    REFRESCA_JOB_BACKOFF_MS: wholeNumber("REFRESCA_JOB_BACKOFF_MS", 100, 3_600_000).default(2000),
    REFRESCA_KEEP_COMPLETED: wholeNumber("REFRESCA_KEEP_COMPLETED", 0, 100_000).default(10),
    REFRESCA_KEEP_FAILED: wholeNumber("REFRESCA_KEEP_FAILED", 0, 100_000).default(50),
    REFRESCA_RETRY_BASE_MS: wholeNumber("REFRESCA_RETRY_BASE_MS", 100, 3_600_000).default(DEFAULT_QUEUE_SETTINGS.retryBaseMs),
    REFRESCA_RETRY_CAP_MS: wholeNumber("REFRESCA_RETRY_CAP_MS", 100, 86_400_000).default(DEFAULT_QUEUE_SETTINGS.retryCapMs),
    REFRESCA_SCHEDULER_INTERVAL_MS: wholeNumber("REFRESCA_SCHEDULER_INTERVAL_MS", 100, 600_000).default(DEFAULT_QUEUE_SETTINGS.schedulerIntervalMs),
    REFRESCA_CLAIM_BATCH: wholeNumber("REFRESCA_CLAIM_BATCH", 1, 10_000).default(DEFAULT_QUEUE_SETTINGS.claimBatch),
    REFRESCA_EXPIRY_LEAD_MINUTES: expiryLeads.optional(),
    REFRESCA_LOCK_DURATION_MS: wholeNumber("REFRESCA_LOCK_DURATION_MS", 1000, 600_000).default(30_000),
    REFRESCA_SHUTDOWN_TIMEOUT_MS: wholeNumber("REFRESCA_SHUTDOWN_TIMEOUT_MS", 0, 600_000).default(25_000),
    METRICS_PORT: wholeNumber("METRICS_PORT", 0, 65_535).optional(),
    METRICS_HOST: text.regex(/^[A-Za-z0-9.:-]+$/, { error: "METRICS_HOST must be a host name or an IP address, e.g. 127.0.0.1 or 0.0.0.0" }).default("127.0.0.1"),
    REFRESCA_SESSION_SECRET: text.min(32, { error: "REFRESCA_SESSION_SECRET must be at least 32 characters (e.g. openssl rand -base64 32)" }).optional(),
    REFRESCA_ADMIN_KEY: text.min(32, { error: "REFRESCA_ADMIN_KEY must be at least 32 characters (e.g. openssl rand -base64 32)" }).optional(),
    PORT: wholeNumber("PORT", 1, 65_535).default(3000),
    HOST: text.regex(/^[A-Za-z0-9.:-]+$/, { error: "HOST must be a host name or an IP address, e.g. 0.0.0.0 or 127.0.0.1" }).default("0.0.0.0"),
    REFRESCA_TRUST_PROXY: z
      .enum(["true", "false", "1", "0"], { error: "REFRESCA_TRUST_PROXY must be true or false" })
      .transform((value) => value === "true" || value === "1")
      .default(false),
    REFRESCA_DB_SCHEMA: text
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: "REFRESCA_DB_SCHEMA must be lowercase letters, digits and _ (at most 63)" })
      .default("refresca"),
    REFRESCA_API_RATE_LIMIT: rateLimit.default(() => ({ ...DEFAULT_API_RATE_LIMIT })),
    REFRESCA_WEBHOOKS_ALLOW_PRIVATE: z
      .enum(["true", "false", "1", "0"], { error: "REFRESCA_WEBHOOKS_ALLOW_PRIVATE must be true or false" })
      .transform((value) => value === "true" || value === "1")
      .default(false),
    REFRESCA_WEBHOOKS_RETRY_BASE_MS: wholeNumber("REFRESCA_WEBHOOKS_RETRY_BASE_MS", 10, 3_600_000).default(30_000),
    REFRESCA_WEBHOOKS_FAILING_AFTER_MINUTES: wholeNumber("REFRESCA_WEBHOOKS_FAILING_AFTER_MINUTES", 1, 10_080).default(30),
    REFRESCA_KEY_PREFIX: text
      .regex(/^[A-Za-z0-9_.-]{1,64}:$/, { error: "REFRESCA_KEY_PREFIX must be letters, digits, _ . - ending with a colon, e.g. refresca:" })
      .default("refresca:"),
  })
  .superRefine((env, ctx) => {
    const pair = (a: string, b: string, aValue?: string, bValue?: string) => {
      if (aValue !== undefined && bValue === undefined) {
        ctx.addIssue({ code: "custom", path: [b], message: `${b} is missing: ${a} is set, and the two go together` });
      }
      if (bValue !== undefined && aValue === undefined) {
        ctx.addIssue({ code: "custom", path: [a], message: `${a} is missing: ${b} is set, and the two go together` });
      }
    };
    pair("META_APP_ID", "META_APP_SECRET", env.META_APP_ID, env.META_APP_SECRET);
    if (env.REFRESCA_RETRY_CAP_MS < env.REFRESCA_RETRY_BASE_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["REFRESCA_RETRY_CAP_MS"],
        message: `REFRESCA_RETRY_CAP_MS (${env.REFRESCA_RETRY_CAP_MS}) must be at least REFRESCA_RETRY_BASE_MS (${env.REFRESCA_RETRY_BASE_MS})`,
      });
    }
    const tiktokClient = env.TIKTOK_CLIENT_KEY !== undefined || env.TIKTOK_CLIENT_SECRET !== undefined;
    const tiktokApp = env.TIKTOK_APP_ID !== undefined || env.TIKTOK_APP_SECRET !== undefined;
    if (tiktokClient && tiktokApp) {
      ctx.addIssue({
        code: "custom",
        path: ["TIKTOK_APP_ID"],
        message: "TIKTOK_APP_ID/TIKTOK_APP_SECRET are alternate names of TIKTOK_CLIENT_KEY/TIKTOK_CLIENT_SECRET: set one pair only",
      });
    } else if (tiktokApp) {
      pair("TIKTOK_APP_ID", "TIKTOK_APP_SECRET", env.TIKTOK_APP_ID, env.TIKTOK_APP_SECRET);
    } else {
      pair("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET", env.TIKTOK_CLIENT_KEY, env.TIKTOK_CLIENT_SECRET);
    }
  });

/** One endpoint's variable, as its platform declares it (META_GRAPH_URL, THREADS_GRAPH_URL, …). */
function endpointVariable(declared: EndpointDeclaration) {
  const value = declared.format === "url"
    ? httpUrl(declared.env)
    : text.regex(declared.format.pattern, { error: `${declared.env} must look like ${declared.format.example}` });
  return value.default(declared.defaultValue);
}

/** The platforms' base URLs (and API version): every endpoint the built-in platforms declare, by its variable. */
const endpointSchema = z.object(Object.fromEntries(BUILT_IN_ENDPOINTS.map((declared) => [declared.env, endpointVariable(declared)])));

function safeUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** Validates the environment once, at a process's start; throws a ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): RefrescaConfig {
  // Empty (or blank) counts as unset, as in most .env tooling.
  const inputOf = (names: string[]) =>
    Object.fromEntries(names.map((name) => [name, env[name]] as const).filter(([, value]) => value !== undefined && value.trim() !== ""));
  const parsed = schema.safeParse(inputOf(Object.keys(schema.shape)));
  const endpointVariables = endpointSchema.safeParse(inputOf(Object.keys(endpointSchema.shape)));
  // Every bad variable at once, the platforms' endpoints included.
  const problems = [...(parsed.error?.issues ?? []), ...(endpointVariables.error?.issues ?? [])].map((issue) => issue.message);
  if (!parsed.success || !endpointVariables.success) throw new ConfigError(problems);
  const e = parsed.data;
  const tiktokKey = e.TIKTOK_CLIENT_KEY ?? e.TIKTOK_APP_ID;
  const tiktokSecret = e.TIKTOK_CLIENT_SECRET ?? e.TIKTOK_APP_SECRET;
  const apps: AppCredentials = {};
  if (e.META_APP_ID && e.META_APP_SECRET) apps.meta = { appId: e.META_APP_ID, appSecret: e.META_APP_SECRET };
  if (tiktokKey && tiktokSecret) apps.tiktok = { clientKey: tiktokKey, clientSecret: tiktokSecret };
  const config: RefrescaConfig = {
    redisUrl: e.REDIS_URL,
    dataDir: e.REFRESCA_DATA_DIR,
    apps,
    providers: withPresets(e.REFRESCA_PROVIDERS_FILE === undefined ? [] : loadProvidersFile(e.REFRESCA_PROVIDERS_FILE, env), env),
    endpoints: Object.fromEntries(
      BUILT_IN_ENDPOINTS.map((declared) => [declared.option, endpointVariables.data[declared.env]!]),
    ) as PlatformEndpoints,
    logLevel: e.LOG_LEVEL,
    platformTimeoutMs: e.REFRESCA_PLATFORM_TIMEOUT_MS,
    schema: e.REFRESCA_DB_SCHEMA,
    keyPrefix: e.REFRESCA_KEY_PREFIX,
    queue: {
      attempts: e.REFRESCA_JOB_ATTEMPTS,
      backoffMs: e.REFRESCA_JOB_BACKOFF_MS,
      keepCompleted: e.REFRESCA_KEEP_COMPLETED,
      keepFailed: e.REFRESCA_KEEP_FAILED,
      retryBaseMs: e.REFRESCA_RETRY_BASE_MS,
      retryCapMs: e.REFRESCA_RETRY_CAP_MS,
      schedulerIntervalMs: e.REFRESCA_SCHEDULER_INTERVAL_MS,
      claimBatch: e.REFRESCA_CLAIM_BATCH,
      ...(e.REFRESCA_EXPIRY_LEAD_MINUTES && { expiryLeadMs: e.REFRESCA_EXPIRY_LEAD_MINUTES }),
    },
    worker: {
      concurrency: e.REFRESCA_WORKER_CONCURRENCY,
      lockDurationMs: e.REFRESCA_LOCK_DURATION_MS,
      shutdownTimeoutMs: e.REFRESCA_SHUTDOWN_TIMEOUT_MS,
      ...(e.METRICS_PORT !== undefined && { metricsPort: e.METRICS_PORT }),
      metricsHost: e.METRICS_HOST,
    },
    web: {
      port: e.PORT,
      host: e.HOST,
      trustProxy: e.REFRESCA_TRUST_PROXY,
      ...(e.REFRESCA_SESSION_SECRET !== undefined && { sessionSecret: e.REFRESCA_SESSION_SECRET }),
      ...(e.REFRESCA_ADMIN_KEY !== undefined && { adminKey: e.REFRESCA_ADMIN_KEY }),
    },
    api: { rateLimit: e.REFRESCA_API_RATE_LIMIT },
    webhooks: {
      allowPrivate: e.REFRESCA_WEBHOOKS_ALLOW_PRIVATE,
      retryBaseMs: e.REFRESCA_WEBHOOKS_RETRY_BASE_MS,
      failingAfterMs: e.REFRESCA_WEBHOOKS_FAILING_AFTER_MINUTES * 60_000,
    },
  };
  const types: readonly string[] = [...BUILT_IN_PLATFORM_IDS, ...config.providers.map((provider) => provider.id)];
  const unknownLeads = Object.keys(config.queue.expiryLeadMs ?? {}).filter((type) => !types.includes(type));
  if (unknownLeads.length > 0) {
    throw new ConfigError([`REFRESCA_EXPIRY_LEAD_MINUTES names ${unknownLeads.join(", ")}, not a channel type here (${types.join(", ")})`]);
  }
  if (e.DATABASE_URL) config.databaseUrl = e.DATABASE_URL;
  if (e.REFRESCA_ENCRYPTION_KEYS) config.encryptionKeys = e.REFRESCA_ENCRYPTION_KEYS;
  return config;
}

/**
 * The key ring spec to use: the configured keys; else, for the embedded default only, a local key file.
 * A production database (DATABASE_URL) without keys refuses to start rather than invent a key nobody backs up.
 */
export async function resolveEncryptionKeys(
  config: Pick<RefrescaConfig, "encryptionKeys" | "databaseUrl" | "dataDir">,
  log: (msg: string) => void,
): Promise<string> {
  if (config.encryptionKeys) return config.encryptionKeys;
  if (!config.databaseUrl) return loadOrCreateLocalKeyFile(config.dataDir, log);
  throw new ConfigError([
    "REFRESCA_ENCRYPTION_KEYS is required when DATABASE_URL is set: production refuses to start without an encryption key. " +
      "Make one with `npx refresca keys generate` or " +
      `\`node -e "console.log('k1:'+require('crypto').randomBytes(32).toString('base64'))"\`, ` +
      "then set REFRESCA_ENCRYPTION_KEYS=<its output> (keep it secret and backed up).",
  ]);
}

/**
 * The secret that signs dashboard sessions: REFRESCA_SESSION_SECRET; else, for the embedded default only, a local
 * file `<dataDir>/session-secret` (mode 0600) created on first run. With DATABASE_URL and no secret, refuses: web
 * processes on several machines must share one secret, so inventing one per machine would sign users out at random.
 */
export async function resolveSessionSecret(
  config: Pick<RefrescaConfig, "databaseUrl" | "dataDir"> & { web: Pick<WebConfig, "sessionSecret"> },
  log: (msg: string) => void,
): Promise<string> {
  if (config.web.sessionSecret) return config.web.sessionSecret;
  if (!config.databaseUrl) {
    const file = path.join(config.dataDir, "session-secret");
    return loadOrCreateLocalSecret(
      {
        file,
        label: "session secret file",
        create: () => randomBytes(32).toString("base64url"),
        validate: (text) => {
          if (text.length < 32) throw new Error("it must hold at least 32 characters");
        },
        createdMessage: `Created a local session secret at ${file} (it signs dashboard sessions; set REFRESCA_SESSION_SECRET in production).`,
      },
      log,
    );
  }
  throw new ConfigError([
    "REFRESCA_SESSION_SECRET is required when DATABASE_URL is set: it signs the dashboard's session cookies and must be " +
      "the same in every web process. Make one with `openssl rand -base64 32` and set REFRESCA_SESSION_SECRET=<its output>.",
  ]);
}

/**
 * Reads the providers file (`.yaml`/`.yml` as YAML, anything else as JSON), validates it, and fills each provider's
 * `clientId`/`clientSecret` from the variables its `clientIdEnv`/`clientSecretEnv` name. A variable that is unset
 * leaves the provider without app credentials: its channels answer MISSING_APP_CREDENTIALS, the rest run.
 */
export function loadProvidersFile(file: string, env: NodeJS.ProcessEnv): OAuth2ProviderInput[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError([`REFRESCA_PROVIDERS_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`]);
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`REFRESCA_PROVIDERS_FILE: ${file} is not valid ${/\.ya?ml$/i.test(file) ? "YAML" : "JSON"}: ${(error as Error).message.split("\n")[0]}`]);
  }
  let configs;
  try {
    configs = parseProviderConfigs(data, file);
  } catch (error) {
    if (error instanceof ProviderConfigError) throw new ConfigError([`REFRESCA_PROVIDERS_FILE: ${error.message}`]);
    throw error;
  }
  const value = (name: string | undefined) => (name === undefined ? undefined : env[name]?.trim() || undefined);
  return configs.map((config) => {
    // The file names variables; values given in it are not taken, so that no secret lives in a configuration file.
    const { clientId: _id, clientSecret: _secret, ...rest } = config;
    const clientId = value(config.clientIdEnv);
    const clientSecret = value(config.clientSecretEnv);
    return { ...rest, ...(clientId && { clientId }), ...(clientSecret && { clientSecret }) };
  });
}

/**
 * Adds each shipped preset (YouTube, LinkedIn, X, Pinterest) whose two variables are both set, unless the providers
 * file configures that id itself. A preset without its variables stays off: no channel type, no MISSING_APP_CREDENTIALS.
 */
export function withPresets(providers: OAuth2ProviderInput[], env: NodeJS.ProcessEnv): OAuth2ProviderInput[] {
  const configured = new Set(providers.map((provider) => provider.id));
  const enabled = OAUTH2_PRESETS.flatMap((preset) => {
    const clientId = env[preset.clientIdEnv]?.trim();
    const clientSecret = env[preset.clientSecretEnv]?.trim();
    return !configured.has(preset.id) && clientId && clientSecret ? [{ ...preset, clientId, clientSecret }] : [];
  });
  return [...providers, ...enabled];
}
