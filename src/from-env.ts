// The one bridge from the environment to the library, for entry points (the command line, the web process, the
// demo) and for the specification's "from the environment" use: `createRefresca` itself takes values only.
import { loadConfig, resolveEncryptionKeys, type RefrescaConfig } from "./config";
import { createLogger } from "./core/logger";
import { ensureEmbeddedPostgres } from "./core/store/embedded";
import { createRefresca, type Refresca, type RefrescaOptions } from "./refresca";

/** Options that win over the environment's values; all optional. */
export interface RefrescaFromEnvOptions extends Partial<RefrescaOptions> {
  /**
   * Where the embedded PostgreSQL and the local key file live when there is no database URL.
   * @defaultValue env REFRESCA_DATA_DIR or "./data"
   */
  dataDir?: string;
}

/**
 * A Refresca configured from the environment, as the command line runs it: `DATABASE_URL` (unset: an embedded
 * PostgreSQL in `REFRESCA_DATA_DIR`, started here and stopped by `close()` when this call started it),
 * `REFRESCA_ENCRYPTION_KEYS` (unset with the embedded database: a local key file, created on first use), `REDIS_URL`,
 * the platforms' credentials and URLs, and the rest of the variables the README lists. Throws a ConfigError naming
 * each bad variable.
 */
export async function createRefrescaFromEnv(
  overrides: RefrescaFromEnvOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<Refresca> {
  return createRefrescaFromConfig(loadConfig(env), overrides);
}

/** {@link createRefrescaFromEnv} for an entry point that has validated its environment already. */
export async function createRefrescaFromConfig(config: RefrescaConfig, overrides: RefrescaFromEnvOptions = {}): Promise<Refresca> {
  const { dataDir = config.dataDir, ...options } = overrides;
  const logger = options.logger ?? createLogger({ level: config.logLevel, name: "refresca" });
  const log = (message: string) => logger.info(message);
  const givenDatabaseUrl = options.databaseUrl ?? config.databaseUrl;
  const embedded = givenDatabaseUrl ? undefined : await ensureEmbeddedPostgres({ dataDir, log });
  try {
    const encryptionKeys = await resolveEncryptionKeys(
      { encryptionKeys: options.encryptionKeys ?? config.encryptionKeys, databaseUrl: givenDatabaseUrl, dataDir },
      log,
    );
    const refresca = await createRefresca({
      redisUrl: config.redisUrl,
      schema: config.schema,
      keyPrefix: config.keyPrefix,
      apps: config.apps,
      providers: config.providers,
      platformTimeoutMs: config.platformTimeoutMs,
      apiRateLimit: config.api.rateLimit,
      ...options,
      endpoints: { ...config.endpoints, ...options.endpoints },
      queue: { ...config.queue, ...options.queue },
      webhooks: { ...config.webhooks, ...options.webhooks },
      worker: {
        concurrency: config.worker.concurrency,
        lockDurationMs: config.worker.lockDurationMs,
        shutdownTimeoutMs: config.worker.shutdownTimeoutMs,
        ...options.worker,
      },
      databaseUrl: givenDatabaseUrl ?? embedded!.url,
      encryptionKeys,
      logger,
    });
    if (!embedded) return refresca;
    return {
      ...refresca,
      /** Stops workers, closes connections, then stops the embedded PostgreSQL if this call started it. */
      async close() {
        try {
          await refresca.close();
        } finally {
          await embedded.stop();
        }
      },
    };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}
