import { dropLibrarySignalHooks } from "../launcher/signals";
import path from "node:path";
import type { RefrescaConfig } from "../config";
import type { Logger } from "../core/logger";
import { ensureWebBuild } from "../launcher/build-web";
import { ensureRedisForDemo, freePort, portIsFree, RedisMissingError, safeUrl, type RedisForDemo } from "../launcher/local-redis";
import { startWebProcess, type WebProcess } from "../launcher/web-process";
import { createRefrescaFromConfig } from "../from-env";
import type { Refresca } from "../refresca";
import { refrescaEnvFor, refrescaSettingsFor, startSimulator, type Simulator } from "../simulator";
import { DEMO_PROVIDER_SIMULATION, demoConfiguredChannel, demoProvidersFile } from "./configured-provider";
import { demoChannels } from "./seed";
import { startDemoReceiver } from "./webhook-receiver";

const TENANT = "demo";
/** Short-lived TikTok tokens, so refreshes keep happening while someone watches the dashboard. */
const TIKTOK_TOKEN_MINUTES = 8;
const RECURRING_MINUTES = 5;
const PRODUCT_KEY_NAME = "Demo product";
/** The channel whose token the printed curl line reads: TikTok, so the answer shows open_id and scope after a refresh. */
const TOKEN_CHANNEL = "tiktok-live";

/** An expected failure of the demo: printed alone, exit code 1. */
export class DemoError extends Error {}

/**
 * `npm run demo`: the embedded PostgreSQL in the data folder, Redis (a private one when none answers), the platform
 * simulator, the seeded tenant "demo" with a recurring refresh, a worker, and the dashboard — until Ctrl-C.
 */
export async function runDemo(config: RefrescaConfig, logger: Logger, waitForStop: () => Promise<string>): Promise<void> {
  const say = (line: string) => console.log(line);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: Error) => logger.warn({ err: error.message }, "demo cleanup"));
  };
  say("Refresca demo\n");
  if (config.databaseUrl) say("  (DATABASE_URL is ignored: the demo keeps its own embedded PostgreSQL in the data folder.)");
  try {
    let redis: RedisForDemo;
    try {
      redis = await ensureRedisForDemo(config.redisUrl, config.dataDir, (line) => say(`  ${line}`));
    } catch (error) {
      if (error instanceof RedisMissingError) throw new DemoError(error.message);
      throw error;
    }
    cleanups.push(() => redis.stop());
    say(`  ✓ Redis at ${safeUrl(redis.url)}${redis.started ? " (private, stopped at exit)" : ""}`);

    const simulator: Simulator = await startSimulator({
      port: 0,
      latencyMs: 80,
      tiktok: { accessLifetimeSeconds: TIKTOK_TOKEN_MINUTES * 60 },
      oauth2: DEMO_PROVIDER_SIMULATION,
    });
    cleanups.push(() => simulator.close());
    say(`  ✓ Platform simulator at ${simulator.url} (TikTok access tokens live ${TIKTOK_TOKEN_MINUTES} minutes)`);

    const { endpoints, apps } = refrescaSettingsFor(simulator.url);
    // One more platform, configured by data as a product would add one: a providers file for the web process.
    const configured = await demoProvidersFile(config.dataDir, simulator);
    // The demo keeps its own embedded PostgreSQL whatever DATABASE_URL says.
    const { databaseUrl: _ignored, ...embeddedConfig } = config;
    // The demo's webhook receiver listens on 127.0.0.1: private addresses are allowed here only.
    const refresca: Refresca = await createRefrescaFromConfig(embeddedConfig, {
      logger,
      redisUrl: redis.url,
      endpoints,
      apps,
      providers: [...config.providers.filter((provider) => provider.id !== configured.provider.id), configured.provider],
      webhooks: { allowPrivate: true, scanIntervalMs: 2000 },
    });
    cleanups.push(() => refresca.close());
    // Starting the embedded server installs signal hooks that exit at once; the demo stops things in its own order.
    dropLibrarySignalHooks();
    say(`  ✓ PostgreSQL embedded in ${displayPath(config.dataDir)}`);

    const channels = [...(await demoChannels(simulator, TENANT)), demoConfiguredChannel(simulator, TENANT)];
    for (const channel of channels) {
      const saved = await refresca.channels.upsert(channel);
      if (!saved.success) throw new Error(`Seeding ${channel.id} failed: ${saved.error}`);
    }
    const key = await refresca.tenants.issueApiKey({ tenantId: TENANT, name: "Demo" });
    if (!key.success) throw new Error(`Could not create the demo key: ${key.error}`);
    const productKey = await demoProductKey(refresca);
    const recurring = await refresca.scheduleRecurringTokenRefresh({ tenantId: TENANT, intervalMinutes: RECURRING_MINUTES });
    if (!recurring.success) throw new Error(`Could not set the recurring refresh: ${recurring.error}`);
    const receiver = await startDemoReceiver(say);
    cleanups.push(() => receiver.close());
    receiver.use(await demoWebhook(refresca, receiver.url));
    say(`  ✓ Webhook receiver at ${receiver.url}: it verifies and prints each event (the revoked TikTok channel sends channel.needs_reauth)`);
    await refresca.startWorker();
    say(`  ✓ Tenant "${TENANT}": ${channels.length} channels on ${new Set(channels.map((channel) => channel.type)).size} platforms, refreshed every ${RECURRING_MINUTES} minutes by a worker`);

    await ensureWebBuild((line) => say(`  … ${line}`));
    const host = "127.0.0.1";
    let port = config.web.port;
    if (!(await portIsFree(port, host))) {
      const taken = port;
      port = await freePort();
      say(`  (port ${taken} is taken: using ${port}; set PORT to choose)`);
    }
    const url = `http://${host}:${port}`;
    const web: WebProcess = await startWebProcess({
      url,
      env: {
        ...withoutDatabaseUrl(process.env),
        // The web process finds the embedded PostgreSQL, the key file and the session secret in the same data folder.
        REFRESCA_DATA_DIR: config.dataDir,
        REDIS_URL: redis.url,
        ...refrescaEnvFor(simulator.url),
        ...configured.env,
        TIKTOK_APP_ID: undefined,
        TIKTOK_APP_SECRET: undefined,
        PORT: String(port),
        HOST: host,
        LOG_LEVEL: process.env.LOG_LEVEL ?? "error",
      },
    });
    cleanups.push(() => web.stop());
    say(`  ✓ Dashboard at ${url}\n`);
    say(`Open ${url} and sign in with the demo tenant's API key (new at every start):\n\n    ${key.apiKey}\n`);
    say(`Read a live token as a product would (REST API key with tokens:read, new at every start; reference at ${url}/api/docs):\n`);
    say(`    curl -s -H "Authorization: Bearer ${productKey}" ${url}/api/v1/tenants/${TENANT}/channels/${TOKEN_CHANNEL}/token\n`);
    say("Press Ctrl-C to stop everything.");

    const reason = await Promise.race([waitForStop(), web.exited.then(() => "the web process exited")]);
    say(`\nStopping (${reason})…`);
  } finally {
    await cleanUp();
  }
  say("Stopped.");
}

/** The demo's REST API key (tokens:read and channels:read on the demo tenant); the previous start's is revoked. */
async function demoProductKey(refresca: Refresca): Promise<string> {
  const listed = await refresca.apiKeys.list({ tenantId: TENANT });
  if (!listed.success) throw new Error(`Could not list the demo's API keys: ${listed.error}`);
  for (const old of listed.keys.filter((key) => key.name === PRODUCT_KEY_NAME && !key.revokedAt)) {
    await refresca.apiKeys.revoke({ id: old.id });
  }
  const made = await refresca.apiKeys.create({ name: PRODUCT_KEY_NAME, tenantId: TENANT, scopes: ["tokens:read", "channels:read"] });
  if (!made.success) throw new Error(`Could not create the demo's API key: ${made.error}`);
  return made.apiKey;
}

/** Registers the demo's receiver as the demo tenant's endpoint (the previous start's, on another port, is removed). */
async function demoWebhook(refresca: Refresca, url: string): Promise<string> {
  const listed = await refresca.webhooks.list({ tenantId: TENANT });
  if (!listed.success) throw new Error(`Could not list the demo's webhooks: ${listed.error}`);
  for (const old of listed.endpoints.filter((endpoint) => endpoint.url.startsWith("http://127.0.0.1:"))) {
    await refresca.webhooks.remove({ tenantId: TENANT, endpointId: old.id });
  }
  const added = await refresca.webhooks.add({ tenantId: TENANT, url });
  if (!added.success) throw new Error(`Could not register the demo's webhook: ${added.error}`);
  return added.secret;
}

function withoutDatabaseUrl(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy.DATABASE_URL;
  return copy;
}

function displayPath(dir: string): string {
  const relative = path.relative(process.cwd(), dir);
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? `./${relative}` : dir;
}
