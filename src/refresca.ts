import { Redis } from "ioredis";
import { createApiKeyOperations } from "./core/access/api-key-operations";
import { ApiRateLimiter, DEFAULT_API_RATE_LIMIT, type ApiRateLimit } from "./core/access/rate-limit";
import { PrincipalCache } from "./core/access/principal-cache";
import { createTenantOperations } from "./core/access/tenants";
import { createAuditOperations } from "./core/audit/operations";
import { DEFAULT_TOKEN_READ_AUDIT_OPTIONS, TokenReadAudit, type TokenReadAuditOptions } from "./core/audit/token-read-audit";
import { createChannelOperations } from "./core/channels";
import { createDashboardQueries } from "./core/dashboard";
import { parseKeyRing } from "./core/crypto";
import { ChannelLock } from "./core/lock";
import { createLogger, type Logger } from "./core/logger";
import { createRefreshOperations } from "./core/operations";
import { createTokenAccess } from "./core/token-access";
import { BUILT_IN_MODULES, createProviders, DEFAULT_ENDPOINTS } from "./core/providers";
import { oauth2Module, parseProviderConfigs, type OAuth2ProviderInput } from "./core/providers/oauth2";
import type { AppCredentials, PlatformEndpoints } from "./core/providers/types";
import { ChannelRefresher } from "./core/refresh";
import { DEFAULT_MANUAL_REFRESH_LIMIT, TenantRefreshBudget, type ManualRefreshLimit } from "./core/refresh-budget";
import { openStore, type Store } from "./core/store";
import { Metrics } from "./core/metrics";
import { RefreshQueue } from "./core/queue/queue";
import { createQueueOperations } from "./core/queue/operations";
import { DEFAULT_QUEUE_SETTINGS, type QueueSettings } from "./core/queue/settings";
import { DEFAULT_WORKER_OPTIONS, RefreshWorker, type WorkerOptions } from "./core/queue/worker";
import { PlanScheduler } from "./core/queue/scheduler";
import { createWebhookOperations, DEFAULT_WEBHOOK_SETTINGS, WebhookRunner, type WebhookSettings } from "./core/webhooks";
import { redisNames } from "./core/redis-names";

/** Where Redis is when `redisUrl` is not given. */
export const DEFAULT_REDIS_URL = "redis://localhost:6379";

/**
 * Everything a Refresca needs, as values: the library reads no environment variable, key file or data folder of its
 * own. `createRefrescaFromEnv()` (src/from-env.ts) builds these from the environment, as the command line does.
 */
export interface RefrescaOptions {
  /** `postgres://…` of the database holding Refresca's tables (required: the library starts no server). */
  databaseUrl: string;
  /** `kid:base64-of-32-bytes` entries, comma-separated; the first encrypts, every one decrypts (required). */
  encryptionKeys: string;
  /** PostgreSQL schema holding Refresca's tables. @defaultValue "refresca" */
  schema?: string;
  /** @defaultValue "redis://localhost:6379" ({@link DEFAULT_REDIS_URL}) */
  redisUrl?: string;
  /** Prefix of every Redis key Refresca writes (locks, queues). @defaultValue "refresca:" */
  keyPrefix?: string;
  /** App credentials per platform; a platform without them answers MISSING_APP_CREDENTIALS. @defaultValue none */
  apps?: AppCredentials;
  /**
   * Generic OAuth 2.0 refresh providers (RFC 6749 §6), each with its app credentials as values (`clientId`,
   * `clientSecret`); a provider without them answers MISSING_APP_CREDENTIALS for its channels only. Their ids become
   * channel types. Validated when Refresca starts (a ProviderConfigError names the bad entry). @defaultValue none
   */
  providers?: readonly OAuth2ProviderInput[];
  /** Platform base URLs (point them at the simulator in tests). @defaultValue the platforms' real APIs (DEFAULT_ENDPOINTS) */
  endpoints?: Partial<PlatformEndpoints>;
  /** Deadline of one platform call. @defaultValue 10000 */
  platformTimeoutMs?: number;
  /** How many channels one batch refresh works on at once. @defaultValue 3 */
  batchConcurrency?: number;
  /** @defaultValue a pino logger at level "info" on stdout, secrets redacted */
  logger?: Logger;
  /** Injected HTTP client for platform calls. @defaultValue Node's http/https clients over keep-alive connections */
  fetch?: typeof fetch;
  /**
   * PostgreSQL connections this process may open (each worker process has its own pool: keep processes × pool size
   * under the server's max_connections). @defaultValue 10, or half of `worker.concurrency` when that is more
   */
  poolSize?: number;
  /** Job retries, retention and timing. @defaultValue DEFAULT_QUEUE_SETTINGS */
  queue?: Partial<QueueSettings>;
  /** What `startWorker()` runs with unless it is given other values. @defaultValue DEFAULT_WORKER_OPTIONS */
  worker?: Partial<WorkerOptions>;
  /**
   * Bring the database schema up to date while connecting. The web app's bundle passes false: the process that
   * starts it (`refresca web`, `start`, `demo`) has migrated already. @defaultValue true
   */
  migrate?: boolean;
  /** Each REST API key's request rate, shared by all web processes. @defaultValue 100/s with bursts of 500 (DEFAULT_API_RATE_LIMIT) */
  apiRateLimit?: ApiRateLimit;
  /** How the audit of token reads is written (batch interval, memory cap, retention). @defaultValue DEFAULT_TOKEN_READ_AUDIT_OPTIONS */
  tokenReadAudit?: Partial<TokenReadAuditOptions>;
  /**
   * Each tenant's budget of manual refreshes that reach a platform (`refreshChannelToken`, `refreshMultipleChannelTokens`),
   * shared by all processes; past it they answer RATE_LIMITED with `retryAfterSeconds`. @defaultValue 1/s with bursts of 100
   */
  manualRefreshLimit?: ManualRefreshLimit;
  /**
   * Webhooks: retries, thresholds, the per-endpoint bound, and whether private addresses may be endpoints (the
   * workers started by `startWorker()` find the episodes and deliver them). @defaultValue DEFAULT_WEBHOOK_SETTINGS
   */
  webhooks?: Partial<WebhookSettings>;
}

/** A running Refresca: the specification's operations, channel management, and its resources to close. */
export type Refresca = Awaited<ReturnType<typeof createRefresca>>;

/** Connects to PostgreSQL and Redis with the options given (and nothing else), and returns the operations. */
export async function createRefresca(options: RefrescaOptions) {
  // Plain JavaScript callers get no type check: say what is missing, and where the environment-reading helper is.
  for (const name of ["databaseUrl", "encryptionKeys"] as const) {
    if (typeof options?.[name] !== "string" || options[name].trim() === "") {
      throw new TypeError(
        `createRefresca: options.${name} is required. To take the configuration from the environment ` +
          "(DATABASE_URL, REFRESCA_ENCRYPTION_KEYS, …), call createRefrescaFromEnv() instead.",
      );
    }
  }
  const logger = options.logger ?? createLogger({ name: "refresca" });
  const { databaseUrl, encryptionKeys } = options;
  const workerDefaults: WorkerOptions = { ...DEFAULT_WORKER_OPTIONS, ...options.worker };
  const keyRing = parseKeyRing(encryptionKeys);
  // Before any connection: a bad provider entry is a configuration error to fix, not something to retry.
  const modules = [...BUILT_IN_MODULES, ...parseProviderConfigs(options.providers ?? [], "the providers option").map(oauth2Module)];
  let store: Store | undefined;
  let redis: Redis | undefined;
  try {
    // A refresh holds a connection only for its three statements, but a busy worker reads their answers late, so at
    // high concurrency 10 connections queue the refreshes (docs/BENCHMARKS.md, Throughput): one per two jobs.
    const poolSize = options.poolSize ?? Math.max(10, Math.ceil(workerDefaults.concurrency / 2));
    store = await openStore({ url: databaseUrl, schema: options.schema ?? "refresca", migrate: options.migrate ?? true, poolSize });
    const redisUrl = options.redisUrl ?? DEFAULT_REDIS_URL;
    redis = new Redis(redisUrl, {
      // Operations answer QUEUE_UNAVAILABLE quickly instead of hanging while Redis is away.
      maxRetriesPerRequest: 2,
      lazyConnect: false,
    });
    redis.on("error", (error) => logger.debug({ err: error.message }, "redis connection error"));
    const keyPrefix = options.keyPrefix ?? "refresca:";
    const platformTimeoutMs = options.platformTimeoutMs ?? 10_000;
    const providers = createProviders({
      ...DEFAULT_ENDPOINTS,
      // An endpoint given as undefined (an unset variable in the caller's code) keeps its default.
      ...Object.fromEntries(Object.entries(options.endpoints ?? {}).filter(([, url]) => url !== undefined)),
      apps: options.apps ?? {},
      timeoutMs: platformTimeoutMs,
      ...(options.fetch && { fetch: options.fetch }),
    }, modules);
    const expiryLeadMs = {
      ...Object.fromEntries(modules.map(({ capabilities }) => [capabilities.id, capabilities.expiryLeadMs])),
      ...options.queue?.expiryLeadMs,
    };
    const platforms = providers.platformIds.map((id) => {
      const { displayName, brandColor } = providers.capabilities(id)!;
      return { id, displayName, ...(brandColor && { color: brandColor }) };
    });
    const queue = new RefreshQueue(redis, keyPrefix, { ...DEFAULT_QUEUE_SETTINGS, ...options.queue, expiryLeadMs });
    const plans = store.plans;
    // The health check: channels breaking "an active channel whose token expires always has a planned refresh".
    const metrics = new Metrics(queue, { unplannedChannels: () => plans.countUnplanned(queue.settings.planGraceMs) });
    const scheduler = new PlanScheduler({ store, queue, logger });
    const refresher = new ChannelRefresher({
      store,
      redis,
      keyPrefix,
      keyRing,
      // Renewed while a refresh runs; its lifetime only matters once renewals stop (a paused or partitioned process):
      // longer than a platform call plus one database step (the pool's connection and statement timeouts).
      lock: new ChannelLock(redis, keyPrefix, platformTimeoutMs + 15_000),
      providerFor: (channel) => providers.forChannel(channel),
      capabilitiesOf: (type) => providers.capabilities(type),
      logger,
      settings: queue.settings,
      observeAttempt: metrics.observeAttempt,
      manualRefreshBudget: new TenantRefreshBudget(redis, keyPrefix, options.manualRefreshLimit ?? DEFAULT_MANUAL_REFRESH_LIMIT),
    });
    const operations = createRefreshOperations({
      store,
      refresher,
      logger,
      batchConcurrency: options.batchConcurrency ?? 3,
    });
    const openedStore = store;
    const openedRedis = redis;
    const workers: RefreshWorker[] = [];
    const tokenReads = new TokenReadAudit(store.tokenReads, logger, { ...DEFAULT_TOKEN_READ_AUDIT_OPTIONS, ...options.tokenReadAudit });
    tokenReads.start();
    const apiKeyCache = new PrincipalCache(redis, redisNames(keyPrefix).apiKeyRevocations, logger);
    const apiKeys = createApiKeyOperations({ store, logger, cache: apiKeyCache });
    const webhookSettings: WebhookSettings = { ...DEFAULT_WEBHOOK_SETTINGS, ...options.webhooks };
    const webhookRunner = new WebhookRunner({ repository: store.webhooks, keyRing, logger }, webhookSettings);
    return {
      /** The channel types this instance refreshes: the built-in platforms, then the configured providers. */
      platformIds: providers.platformIds,
      /** The same channel types with the names people read (for pickers, filters and badges). */
      platforms,
      ...operations,
      ...createQueueOperations({ store, queue, logger }),
      ...createTokenAccess({ store, keyRing, refresher, audit: tokenReads, logger }),
      ...createAuditOperations({ store, logger }),
      channels: createChannelOperations({
        store,
        keyRing,
        logger,
        settings: queue.settings,
        channelTypes: providers.platformIds,
        hooks: { removed: (channel) => queue.removeChannelJobs(channel.tenantId, channel.id) },
      }),
      /** Tenants and their dashboard API keys. */
      tenants: createTenantOperations({ store, logger }),
      /** The REST API's keys: create, list, revoke, and `authenticate(key)` on every request. */
      apiKeys,
      /** The REST API's per-key request limit: `take(keyId)` once per request, after `apiKeys.authenticate`. */
      rateLimiter: new ApiRateLimiter(redis, keyPrefix, options.apiRateLimit ?? DEFAULT_API_RATE_LIMIT),
      /** The dashboard's reads: paged channel list, expiry horizon, recent refresh events. */
      dashboard: createDashboardQueries({ store, logger, platforms }),
      metrics,
      /** Webhook endpoints of a tenant: add (answers the signing secret once), list, get, update, remove, deliveries, test, redeliver. */
      webhooks: createWebhookOperations({ store, keyRing, logger, settings: webhookSettings }),
      /** Starts processing refresh and sweep jobs in this process; `close()` stops it too. */
      async startWorker(workerOptions: Partial<WorkerOptions> = {}) {
        const worker = new RefreshWorker(
          { redisUrl, store: openedStore, queue, refresher, logger, metrics, scheduler, platformTimeoutMs },
          { ...workerDefaults, ...workerOptions },
        );
        workers.push(worker);
        await worker.start();
        // Every worker finds webhook episodes and delivers them (claims in SQL: any number may run).
        webhookRunner.start();
        return worker;
      },
      /** Internals for the worker, the CLI and tests. */
      internals: { store, redis, keyRing, refresher, queue, scheduler, logger, keyPrefix, databaseUrl, tokenReads, webhookRunner, providers },
      /** Stops workers and closes connections. */
      async close() {
        await Promise.all(workers.map((worker) => worker.close()));
        await webhookRunner.close();
        // Refreshes still running (manual ones, token reads) save their answers before the connections close.
        await refresher.close();
        await tokenReads.close();
        await apiKeys.close();
        await apiKeyCache.close();
        await queue.close();
        await providers.close();
        await openedStore.close();
        openedRedis.disconnect();
      },
    };
  } catch (error) {
    await store?.close();
    redis?.disconnect();
    throw error;
  }
}
