import { Redis } from "ioredis";
import { loadConfig, resolveEncryptionKeys } from "./config";
import { createApiKeyOperations } from "./core/access/api-key-operations";
import { PrincipalCache } from "./core/access/principal-cache";
import { ApiRateLimiter, type ApiRateLimit } from "./core/access/rate-limit";
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
import { createProviders, DEFAULT_ENDPOINTS } from "./core/providers";
import type { AppCredentials, PlatformEndpoints } from "./core/providers/types";
import { ChannelRefresher } from "./core/refresh";
import { openStore, type Store } from "./core/store";
import { ensureEmbeddedPostgres } from "./core/store/embedded";
import { Metrics } from "./core/metrics";
import { RefreshQueue } from "./core/queue/queue";
import { createQueueOperations } from "./core/queue/operations";
import { DEFAULT_QUEUE_SETTINGS, type QueueSettings } from "./core/queue/settings";
import { DEFAULT_WORKER_OPTIONS, RefreshWorker, type WorkerOptions } from "./core/queue/worker";

export interface RefrescaOptions {
  /** `postgres://…`. Unset: an embedded PostgreSQL kept in `dataDir`. @defaultValue env DATABASE_URL */
  databaseUrl?: string;
  /** Where the embedded PostgreSQL and the local key file live. @defaultValue env REFRESCA_DATA_DIR or "./data" */
  dataDir?: string;
  /** PostgreSQL schema holding Refresca's tables. @defaultValue "refresca" */
  schema?: string;
  /** @defaultValue env REDIS_URL or "redis://localhost:6379" */
  redisUrl?: string;
  /** Prefix of every Redis key Refresca writes (locks, queues). @defaultValue "refresca:" */
  keyPrefix?: string;
  /** `kid:base64` entries, comma-separated; the first encrypts. @defaultValue env REFRESCA_ENCRYPTION_KEYS */
  encryptionKeys?: string;
  /** App credentials per platform. @defaultValue from META_APP_ID, META_APP_SECRET, TIKTOK_CLIENT_KEY, … */
  apps?: AppCredentials;
  /** Platform base URLs (point them at the simulator in tests). @defaultValue the platforms' real APIs */
  endpoints?: Partial<PlatformEndpoints>;
  /** Deadline of one platform call. @defaultValue 10000 */
  platformTimeoutMs?: number;
  /** How many channels one batch refresh works on at once. @defaultValue 3 */
  batchConcurrency?: number;
  /** @defaultValue a pino logger at env LOG_LEVEL or "info" */
  logger?: Logger;
  /** Injected HTTP client for platform calls. @defaultValue Node's http/https clients over keep-alive connections */
  fetch?: typeof fetch;
  /**
   * PostgreSQL connections this process may open (each worker process has its own pool: keep processes × pool size
   * under the server's max_connections). @defaultValue 10, or half of REFRESCA_WORKER_CONCURRENCY when that is more
   */
  poolSize?: number;
  /** Job retries, retention and timing. @defaultValue DEFAULT_QUEUE_SETTINGS, overridden by the REFRESCA_JOB_* variables */
  queue?: Partial<QueueSettings>;
  /**
   * Bring the database schema up to date while connecting. The web app's bundle passes false: the process that
   * starts it (`refresca web`, `start`, `demo`) has migrated already. @defaultValue true
   */
  migrate?: boolean;
  /** Each REST API key's request rate, shared by all web processes. @defaultValue env REFRESCA_API_RATE_LIMIT or 100/s with bursts of 500 */
  apiRateLimit?: ApiRateLimit;
  /** How the audit of token reads is written (batch interval, memory cap, retention). @defaultValue DEFAULT_TOKEN_READ_AUDIT_OPTIONS */
  tokenReadAudit?: Partial<TokenReadAuditOptions>;
  /** Where defaults come from. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
}

/** A running Refresca: the specification's operations, channel management, and its resources to close. */
export type Refresca = Awaited<ReturnType<typeof createRefresca>>;

/** Connects to PostgreSQL (starting the embedded one if needed) and Redis, and returns the operations. */
export async function createRefresca(options: RefrescaOptions = {}) {
  const config = loadConfig(options.env ?? process.env);
  const logger = options.logger ?? createLogger({ level: config.logLevel, name: "refresca" });
  const dataDir = options.dataDir ?? config.dataDir;
  const databaseUrlOption = options.databaseUrl ?? config.databaseUrl;
  const log = (msg: string) => logger.info(msg);

  const embedded = databaseUrlOption ? undefined : await ensureEmbeddedPostgres({ dataDir, log });
  const databaseUrl = databaseUrlOption ?? embedded!.url;
  const encryptionKeys = await resolveEncryptionKeys(
    { encryptionKeys: options.encryptionKeys ?? config.encryptionKeys, databaseUrl: databaseUrlOption, dataDir },
    log,
  );
  const keyRing = parseKeyRing(encryptionKeys);
  let store: Store | undefined;
  let redis: Redis | undefined;
  try {
    // A refresh holds a connection only for its three statements, but a busy worker reads their answers late, so at
    // high concurrency 10 connections queue the refreshes (docs/BENCHMARKS.md, Throughput): one per two jobs.
    const poolSize = options.poolSize ?? Math.max(10, Math.ceil(config.worker.concurrency / 2));
    store = await openStore({ url: databaseUrl, schema: options.schema ?? config.schema, migrate: options.migrate ?? true, poolSize });
    redis = new Redis(options.redisUrl ?? config.redisUrl, {
      // Operations answer QUEUE_UNAVAILABLE quickly instead of hanging while Redis is away.
      maxRetriesPerRequest: 2,
      lazyConnect: false,
    });
    redis.on("error", (error) => logger.debug({ err: error.message }, "redis connection error"));
    const keyPrefix = options.keyPrefix ?? config.keyPrefix;
    const platformTimeoutMs = options.platformTimeoutMs ?? config.platformTimeoutMs;
    const providers = createProviders({
      ...DEFAULT_ENDPOINTS,
      ...config.endpoints,
      ...options.endpoints,
      apps: options.apps ?? config.apps,
      timeoutMs: platformTimeoutMs,
      ...(options.fetch && { fetch: options.fetch }),
    });
    const queue = new RefreshQueue(redis, keyPrefix, { ...DEFAULT_QUEUE_SETTINGS, ...config.queue, ...options.queue });
    const metrics = new Metrics(queue);
    const refresher = new ChannelRefresher({
      store,
      redis,
      keyPrefix,
      keyRing,
      // The lock outlives the platform call's deadline plus the save's retries, so a live owner never loses it.
      lock: new ChannelLock(redis, keyPrefix, platformTimeoutMs + 15_000),
      providerFor: (channel) => providers.forChannel(channel),
      logger,
      lifecycle: {
        refreshed: (channel, previousExpiresAt) => queue.scheduleExpiryRefresh(channel, previousExpiresAt),
        flagged: (channel) => queue.removeChannelJobs(channel.tenantId, channel.id, channel.expiresAt),
      },
      observeAttempt: metrics.observeAttempt,
    });
    const operations = createRefreshOperations({
      store,
      refresher,
      logger,
      batchConcurrency: options.batchConcurrency ?? 3,
    });
    const openedStore = store;
    const openedRedis = redis;
    const redisUrl = options.redisUrl ?? config.redisUrl;
    const workers: RefreshWorker[] = [];
    const tokenReads = new TokenReadAudit(store.tokenReads, logger, { ...DEFAULT_TOKEN_READ_AUDIT_OPTIONS, ...options.tokenReadAudit });
    tokenReads.start();
    const apiKeyCache = new PrincipalCache(redis, `${keyPrefix}api-keys:revoked`, logger);
    const apiKeys = createApiKeyOperations({ store, logger, cache: apiKeyCache });
    return {
      ...operations,
      ...createQueueOperations({ store, queue, logger }),
      ...createTokenAccess({ store, keyRing, refresher, audit: tokenReads, logger }),
      ...createAuditOperations({ store, logger }),
      channels: createChannelOperations({
        store,
        keyRing,
        logger,
        hooks: {
          saved: (channel) => queue.scheduleExpiryRefresh(channel),
          removed: (channel) => queue.removeChannelJobs(channel.tenantId, channel.id, channel.expiresAt),
        },
      }),
      /** Tenants and their dashboard API keys. */
      tenants: createTenantOperations({ store, logger }),
      /** The REST API's keys: create, list, revoke, and `authenticate(key)` on every request. */
      apiKeys,
      /** The REST API's per-key request limit: `take(keyId)` once per request, after `apiKeys.authenticate`. */
      rateLimiter: new ApiRateLimiter(redis, keyPrefix, options.apiRateLimit ?? config.api.rateLimit),
      /** The dashboard's reads: paged channel list, expiry horizon, recent refresh events. */
      dashboard: createDashboardQueries({ store, logger }),
      metrics,
      /** Starts processing refresh and sweep jobs in this process; `close()` stops it too. */
      async startWorker(workerOptions: Partial<WorkerOptions> = {}) {
        const worker = new RefreshWorker(
          { redisUrl, store: openedStore, queue, refresher, logger, metrics },
          { ...DEFAULT_WORKER_OPTIONS, ...config.worker, ...workerOptions },
        );
        workers.push(worker);
        await worker.start();
        return worker;
      },
      /** Internals for the worker, the CLI and tests. */
      internals: { store, redis, keyRing, refresher, queue, logger, keyPrefix, databaseUrl, tokenReads },
      /** Stops workers, closes connections, and stops the embedded PostgreSQL if this instance started it. */
      async close() {
        await Promise.all(workers.map((worker) => worker.close()));
        await tokenReads.close();
        await apiKeys.close();
        await apiKeyCache.close();
        await queue.close();
        await providers.close();
        await openedStore.close();
        openedRedis.disconnect();
        await embedded?.stop();
      },
    };
  } catch (error) {
    await store?.close();
    redis?.disconnect();
    await embedded?.stop();
    throw error;
  }
}
