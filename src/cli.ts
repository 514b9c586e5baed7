// First: it notes the signal listeners the runtime installed before any library adds its own.
import { dropLibrarySignalHooks } from "./launcher/signals";
import { readFile } from "node:fs/promises";
import { getHeapStatistics } from "node:v8";
import { Command, InvalidArgumentError } from "commander";
import { ConfigError, loadConfig, resolveSessionSecret } from "./config";
import { API_SCOPES, type ApiScope } from "./core/access/scopes";
import { generateKeySpec } from "./core/crypto";
import { rotateKeys } from "./core/keys";
import { rotateWebhookSecrets } from "./core/webhooks/rotate";
import { createLogger } from "./core/logger";
import pino from "pino";
import { createRefrescaFromConfig, createRefrescaFromEnv, type RefrescaFromEnvOptions } from "./from-env";
import type { Refresca } from "./refresca";
import { DemoError, runDemo } from "./demo/web-demo";
import { ensureWebBuild, webAppIsHere, webBuildIsStale } from "./launcher/build-web";
import { startWebProcess, type WebProcess } from "./launcher/web-process";
import { simulatorUrlEnv, startSimulator } from "./simulator";
import { closeWebRuntime } from "./web/runtime";
import { serveWeb } from "./web/serve";
import { createRefrescaApi } from "./api";
import { platformReport } from "./core/platform-report";

// An entry point: with the web process (src/web/runtime.ts), the only code that reads process.env — through
// loadConfig and createRefrescaFromEnv; the library itself takes every setting as an option.
const program = new Command("refresca").description("Keeps the OAuth tokens of social channels alive.");

function integer(name: string, min: number, max: number) {
  return (value: string) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}.`);
    }
    return parsed;
  };
}

/** Logs go to stderr so that a command's own output (tables, JSON) stays clean on stdout. */
function cliLogger() {
  return createLogger({ level: loadConfig().logLevel, destination: pino.destination(2), name: "refresca" });
}

async function withRefresca<T>(work: (refresca: Refresca) => Promise<T>, options: RefrescaFromEnvOptions = {}): Promise<T> {
  const refresca = await createRefrescaFromEnv({ logger: cliLogger(), ...options });
  try {
    return await work(refresca);
  } finally {
    await refresca.close();
  }
}

program
  .command("migrate")
  .description("Create or update the database schema (also done at every start).")
  .action(() => withRefresca(async () => console.log("Database schema is up to date.")));

const channels = program.command("channels").description("Manage channels.");

channels
  .command("import")
  .argument("<file>", "JSON file holding an array of channels")
  .description("Create or update channels from a JSON array; tokens are encrypted before they are stored.")
  .action(async (file: string) => {
    const text = await readFile(file, "utf8");
    let entries: unknown;
    try {
      entries = JSON.parse(text);
    } catch (error) {
      throw new CliError(`${file} is not valid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(entries)) throw new CliError(`${file} must hold a JSON array of channels.`);
    await withRefresca(async (refresca) => {
      let shown = 0;
      const results = await refresca.channels.import(entries as unknown[], (done, total) => {
        if (process.stderr.isTTY || done === total || done - shown >= 100) {
          process.stderr.write(`\rimported ${done}/${total}`);
          shown = done;
        }
      });
      process.stderr.write("\n");
      const failed = results.filter((result) => !result.success);
      console.log(`${results.length - failed.length} channel(s) imported, ${failed.length} refused.`);
      for (const result of failed) console.log(`  entry ${result.index}: ${result.error}`);
      if (failed.length > 0) process.exitCode = 1;
    });
  });

channels
  .command("list")
  .requiredOption("--tenant <id>", "tenant id")
  .option("--limit <n>", "how many", integer("--limit", 1, 1000), 100)
  .option("--offset <n>", "skip this many", integer("--offset", 0, 10_000_000), 0)
  .option("--json", "print JSON")
  .description("List a tenant's channels with their expiry and status (never their tokens).")
  .action((options: { tenant: string; limit: number; offset: number; json?: boolean }) =>
    withRefresca(async (refresca) => {
      const answer = await refresca.channels.list({ tenantId: options.tenant, limit: options.limit, offset: options.offset });
      if (!answer.success) throw new CliError(`${answer.error} (${answer.code})`);
      if (options.json) return console.log(JSON.stringify(answer.channels, null, 2));
      if (answer.channels.length === 0) return console.log(`Tenant ${options.tenant} has no channels.`);
      console.table(
        answer.channels.map((channel) => ({
          id: channel.id,
          platform: channel.type,
          name: channel.displayName,
          expiresAt: channel.expiresAt ?? "never",
          refreshToken: channel.hasRefreshToken ? "yes" : "no",
          status: channel.status,
          last: channel.lastErrorCode ?? channel.lastOutcome ?? "",
        })),
      );
    }),
  );

program
  .command("audit")
  .requiredOption("--tenant <id>", "tenant id")
  .option("--channel <id>", "only this channel")
  .option("--limit <n>", "how many rows", integer("--limit", 1, 1000), 100)
  .option("--json", "print JSON")
  .description("Who read which channel's token, per minute, newest first (the processes that read write these within seconds).")
  .action((options: { tenant: string; channel?: string; limit: number; json?: boolean }) =>
    withRefresca(async (refresca) => {
      const answer = await refresca.audit({
        tenantId: options.tenant,
        ...(options.channel !== undefined && { channelId: options.channel }),
        limit: options.limit,
      });
      if (!answer.success) throw new CliError(`${answer.error} (${answer.code})`);
      if (options.json) return console.log(JSON.stringify(answer.reads, null, 2));
      if (answer.reads.length === 0) return console.log(`No token reads recorded for tenant ${options.tenant}.`);
      console.table(
        answer.reads.map((row) => ({
          minute: row.minute,
          channel: row.channelId,
          reader: row.reader,
          reads: row.reads,
          refreshed: row.refreshed,
        })),
      );
    }),
  );

program
  .command("providers")
  .option("--json", "print JSON")
  .description("List the channel types this deployment refreshes, whether their app credentials are set, and their channels.")
  .action((options: { json?: boolean }) =>
    withRefresca(async (refresca) => {
      const report = await platformReport(refresca.internals);
      const missing = report.platforms.filter((row) => row.appCredentials === "missing" && row.channels > 0);
      const orphaned = report.unconfigured.filter((row) => row.active > 0);
      if (missing.length > 0 || orphaned.length > 0) process.exitCode = 1;
      if (options.json) return console.log(JSON.stringify(report, null, 2));
      console.table(
        report.platforms.map((row) => ({
          type: row.type,
          name: row.name,
          source: row.source,
          appCredentials: row.appCredentials === "missing" ? `missing (${row.variables.join(", ") || "clientId, clientSecret"})` : row.appCredentials,
          channels: row.channels,
          active: row.active,
        })),
      );
      for (const row of missing) {
        console.log(`${row.name}: ${row.channels} channel(s) cannot be refreshed until ${row.variables.join(" and ") || "its app credentials"} are set (MISSING_APP_CREDENTIALS).`);
      }
      for (const row of report.unconfigured) {
        console.log(`Type "${row.type}": ${row.channels} channel(s) (${row.active} active) of a provider this deployment does not configure: they are not refreshed (add it to REFRESCA_PROVIDERS_FILE).`);
      }
    }),
  );

program
  .command("doctor")
  .option("--limit <n>", "channels named at most", integer("--limit", 1, 10_000), 50)
  .description("Check that every active channel whose token expires has its next refresh planned; name those that do not.")
  .action((options: { limit: number }) =>
    withRefresca(async (refresca) => {
      const { store, queue } = refresca.internals;
      const grace = queue.settings.planGraceMs;
      const count = await store.plans.countUnplanned(grace);
      if (count === 0) return console.log("OK: every active channel whose token expires has its next refresh planned.");
      console.log(`${count} active channel(s) whose token expires have no refresh planned, or one more than ${Math.round(grace / 60_000)} min late:`);
      console.table(
        (await store.plans.unplanned(grace, options.limit)).map((row) => ({
          tenant: row.tenantId,
          channel: row.id,
          platform: row.type,
          expiresAt: row.expiresAt.toISOString(),
          plannedFor: row.nextRefreshAt?.toISOString() ?? "nothing",
        })),
      );
      console.log("A late plan means no worker queues refreshes (is one running?); no plan at all is a bug worth reporting.");
      process.exitCode = 1;
    }),
  );

program
  .command("simulate")
  .description("Run the platform simulator (Meta Graph, Instagram, TikTok v2, Threads, generic OAuth 2.0) on a local port.")
  .option("--port <n>", "port", integer("--port", 0, 65535), 4010)
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .option("--latency <ms>", "delay of every platform answer", integer("--latency", 0, 60_000), 0)
  .action(async (options: { port: number; host: string; latency: number }) => {
    const simulator = await startSimulator({ port: options.port, host: options.host, latencyMs: options.latency });
    console.log(`Platform simulator listening on ${simulator.url} (admin API under ${simulator.url}/_sim/)`);
    // Every base URL variable the platforms declare, so a new platform is listed without touching this file.
    const variables = Object.entries(simulatorUrlEnv(simulator.url)).map(([name, value]) => `${name}=${value}`);
    console.log(`Point Refresca at it: ${variables.join(" ")}`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await simulator.close();
  });

/**
 * Resolves with the name of the first of SIGINT, SIGTERM, SIGHUP this process receives. Later signals are absorbed
 * while the shutdown runs (a Ctrl-C arrives twice under tsx, which forwards it); a fourth one exits at once.
 */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    let received = 0;
    for (const name of ["SIGINT", "SIGTERM", "SIGHUP"]) {
      process.on(name, () => {
        received += 1;
        if (received === 1) resolve(name);
        else if (received >= 4) process.exit(130);
      });
    }
  });
}

program
  .command("demo")
  .description(
    "Run everything on this machine: embedded PostgreSQL, Redis, the platform simulator, a seeded tenant, a worker and the dashboard.",
  )
  .action(async () => {
    requireWebApp("demo");
    const config = loadConfig();
    // Quiet unless asked: the demo prints its own progress, and the dashboard shows what the worker does.
    const logger = createLogger({ level: process.env.LOG_LEVEL ? config.logLevel : "error", destination: pino.destination(2), name: "refresca" });
    try {
      await runDemo(config, logger, stopSignal);
    } catch (error) {
      if (error instanceof DemoError) throw new CliError(error.message, 1);
      throw error;
    }
  });

/** The heap limits `npm run worker` sets; see the README's Worker memory. */
const WORKER_NODE_OPTIONS = "--max-old-space-size=128 --max-semi-space-size=2";
const UNBOUNDED_HEAP_MB = 1024;

/**
 * Runs workers until SIGTERM or SIGINT, then shuts down gracefully: stop taking jobs, let active ones finish within
 * REFRESCA_SHUTDOWN_TIMEOUT_MS, close connections, stop the embedded PostgreSQL if this process started it.
 */
async function runWorker(kind: "worker" | "start") {
  if (kind === "start") requireWebApp("start");
  const config = loadConfig();
  const logger = cliLogger();
  // `start` serves the dashboard too: refuse now, with the reason, rather than from a web process later.
  if (kind === "start") await resolveSessionSecret(config, (message) => logger.info(message));
  const refresca = await createRefrescaFromConfig(config, { logger });
  // Starting the embedded server installs a signal hook that exits as soon as the server is stopped; this process
  // shuts down in its own order instead (jobs first, database last).
  dropLibrarySignalHooks();
  await refresca.startWorker();
  let web: WebProcess | undefined;
  if (kind === "start") {
    try {
      await ensureWebBuild((message) => logger.info(message));
      const host = config.web.host === "0.0.0.0" || config.web.host === "::" ? "127.0.0.1" : config.web.host;
      web = await startWebProcess({
        url: `http://${host.includes(":") ? `[${host}]` : host}:${config.web.port}`,
        // The web process finds an embedded PostgreSQL through the same data folder, or uses DATABASE_URL.
        env: { ...process.env, REFRESCA_DATA_DIR: config.dataDir },
      });
    } catch (error) {
      await refresca.close();
      throw error;
    }
    logger.info({ port: config.web.port, host: config.web.host }, "dashboard and server actions served");
  }
  const metricsServer =
    config.worker.metricsPort !== undefined ? await refresca.metrics.serve(config.worker.metricsPort, config.worker.metricsHost) : undefined;
  if (metricsServer) logger.info({ port: config.worker.metricsPort, host: config.worker.metricsHost }, "metrics served on /metrics");
  logger.info({ kind, database: config.databaseUrl ? "DATABASE_URL" : `embedded in ${config.dataDir}` }, "Refresca is running");
  const heapLimitMb = Math.round(getHeapStatistics().heap_size_limit / 1024 ** 2);
  if (heapLimitMb > UNBOUNDED_HEAP_MB) {
    // V8 sizes the heap from the machine's memory and, under load, grows it with garbage instead of collecting.
    logger.info(
      { heapLimitMb, suggested: WORKER_NODE_OPTIONS },
      "the V8 heap may grow to this limit under load: set NODE_OPTIONS to bound the worker's memory (npm run worker does)",
    );
  }
  const signal = await Promise.race([stopSignal(), web ? web.exited.then(() => "web process exited") : new Promise<string>(() => {})]);
  if (signal === "web process exited") {
    logger.error("the web process exited: stopping (a supervisor should restart Refresca)");
    process.exitCode = 1;
  }
  logger.info({ signal }, "shutting down");
  await web?.stop();
  metricsServer?.close();
  await refresca.close();
}

program
  .command("worker")
  .description("Process refresh and sweep jobs (run any number, on any machines, against one PostgreSQL and Redis).")
  .action(() => runWorker("worker"));

program
  .command("start")
  .description(
    "Start Refresca: the embedded PostgreSQL when DATABASE_URL is unset, a worker, and the web app on PORT (built first if needed).",
  )
  .action(() => runWorker("start"));

program
  .command("web")
  .description("Serve the web app (dashboard and server actions) on PORT; run `npm run build` first. Any number may run.")
  .action(async () => {
    requireWebApp("web");
    const config = loadConfig();
    const logger = cliLogger();
    await resolveSessionSecret(config, (message) => logger.info(message));
    if (await webBuildIsStale()) logger.warn("the web app's build (.next) is missing or older than the sources: run `npm run build`");
    // Migrates (the app's bundle cannot), and owns the embedded PostgreSQL when none is running.
    const refresca = await createRefrescaFromConfig(config, { logger });
    dropLibrarySignalHooks();
    const server = await serveWeb({
      port: config.web.port,
      host: config.web.host,
      trustProxy: config.web.trustProxy,
      api: createRefrescaApi(refresca),
    });
    logger.info({ url: server.url }, "web app listening");
    // Started by `start` or `demo` with an IPC channel: a launcher that dies takes this process with it.
    const orphaned = process.send ? new Promise<string>((resolve) => process.once("disconnect", () => resolve("launcher gone"))) : new Promise<string>(() => {});
    const reason = await Promise.race([stopSignal(), orphaned]);
    logger.info({ reason }, "web app shutting down");
    await server.close();
    await closeWebRuntime();
    await refresca.close();
  });

const tenants = program.command("tenants").description("Tenants and their dashboard API keys.");
tenants
  .command("create")
  .argument("<tenantId>", "tenant id")
  .option("--name <name>", "display name (default: the id; given for an existing tenant, renames it)")
  .description("Create the tenant if needed and print a new dashboard API key, once (it replaces the tenant's previous key).")
  .action((tenantId: string, options: { name?: string }) =>
    withRefresca(async (refresca) => {
      const answer = await refresca.tenants.issueApiKey({ tenantId, ...(options.name !== undefined && { name: options.name }) });
      if (!answer.success) throw new CliError(`${answer.error} (${answer.code})`);
      console.error(
        answer.created
          ? `Created tenant "${tenantId}". Its dashboard API key is below: it is shown only this once (only its hash is stored).`
          : `Tenant "${tenantId}" has a new dashboard API key, shown only this once; its previous key and that key's sessions no longer work.`,
      );
      console.log(answer.apiKey);
    }),
  );

const apiKeys = program.command("api-keys").description("Keys of the REST API (Authorization: Bearer <key>).");
apiKeys
  .command("create")
  .requiredOption("--name <name>", "what the key is for, e.g. the product's backend")
  .option("--tenant <id>", "limit the key to this tenant (default: valid for every tenant)")
  .option("--scopes <list>", `comma-separated, from ${API_SCOPES.join(", ")} (default: every scope but tokens:read)`)
  .description("Make a REST API key and print it, once (only its hash is stored).")
  .action((options: { name: string; tenant?: string; scopes?: string }) =>
    withRefresca(async (refresca) => {
      // Typed as scopes but not checked here: the operation names an unknown one.
      const scopes = options.scopes?.split(",").map((scope) => scope.trim()).filter(Boolean) as ApiScope[] | undefined;
      const answer = await refresca.apiKeys.create({
        name: options.name,
        ...(options.tenant !== undefined && { tenantId: options.tenant }),
        ...(scopes !== undefined && { scopes }),
      });
      if (!answer.success) throw new CliError(`${answer.error} (${answer.code})`);
      const { key } = answer;
      console.error(
        `Created API key ${key.id} "${key.name}" for ${key.tenantId ? `tenant "${key.tenantId}"` : "every tenant"}, ` +
          `scopes ${key.scopes.join(", ")}. The key is below: it is shown only this once (only its hash is stored).`,
      );
      console.log(answer.apiKey);
    }),
  );

apiKeys
  .command("list")
  .option("--tenant <id>", "only the keys limited to this tenant (default: every key)")
  .option("--json", "print JSON")
  .description("List REST API keys with their tenant, scopes and last use (never the keys).")
  .action((options: { tenant?: string; json?: boolean }) =>
    withRefresca(async (refresca) => {
      const answer = await refresca.apiKeys.list(options.tenant === undefined ? {} : { tenantId: options.tenant });
      if (!answer.success) throw new CliError(`${answer.error} (${answer.code})`);
      if (options.json) return console.log(JSON.stringify(answer.keys, null, 2));
      if (answer.keys.length === 0) return console.log(options.tenant ? `Tenant ${options.tenant} has no API keys of its own.` : "There are no API keys.");
      console.table(
        answer.keys.map((key) => ({
          id: key.id,
          name: key.name,
          tenant: key.tenantId ?? "all tenants",
          scopes: key.scopes.join(","),
          created: key.createdAt,
          lastUsed: key.lastUsedAt ?? "never",
          revoked: key.revokedAt ?? "",
        })),
      );
    }),
  );

apiKeys
  .command("revoke")
  .argument("<id>", "the key's id (key_…), as `api-keys list` shows it")
  .description("Revoke a REST API key: requests with it are refused from now on.")
  .action((id: string) =>
    withRefresca(async (refresca) => {
      const answer = await refresca.apiKeys.revoke({ id });
      if (!answer.success) throw new CliError(`${answer.error} (${answer.code})`);
      console.log(`Revoked API key ${id}.`);
    }),
  );

const webhooks = program.command("webhooks").description("Webhook endpoints: where Refresca tells a product that a channel needs a person.");
webhooks
  .command("add")
  .requiredOption("--tenant <id>", "tenant id")
  .requiredOption("--url <url>", "the receiver (https, public address)")
  .option("--events <list>", "comma-separated event types (default: every type but channel.refreshed)")
  .description("Add a webhook endpoint and print its signing secret, once (only its encryption is stored).")
  .action((options: { tenant: string; url: string; events?: string }) =>
    withRefresca(async (refresca) => {
      // Typed as event types but not checked here: the operation names an unknown one.
      const events = options.events?.split(",").map((event) => event.trim()).filter(Boolean) as never[] | undefined;
      const answer = await refresca.webhooks.add({ tenantId: options.tenant, url: options.url, ...(events !== undefined && { events }) });
      if (!answer.success) throw new CliError(`${answer.error} (${answer.code})`);
      const { endpoint } = answer;
      console.error(
        `Added webhook endpoint ${endpoint.id} for tenant "${endpoint.tenantId}" (events: ${endpoint.events.length > 0 ? endpoint.events.join(", ") : "all but channel.refreshed"}). ` +
          "Its signing secret is below: it is shown only this once.",
      );
      console.log(answer.secret);
    }),
  );

webhooks
  .command("list")
  .requiredOption("--tenant <id>", "tenant id")
  .option("--json", "print JSON")
  .description("List a tenant's webhook endpoints (never their secrets).")
  .action((options: { tenant: string; json?: boolean }) =>
    withRefresca(async (refresca) => {
      const answer = await refresca.webhooks.list({ tenantId: options.tenant });
      if (!answer.success) throw new CliError(`${answer.error} (${answer.code})`);
      if (options.json) return console.log(JSON.stringify(answer.endpoints, null, 2));
      if (answer.endpoints.length === 0) return console.log(`Tenant ${options.tenant} has no webhook endpoints.`);
      console.table(
        answer.endpoints.map((endpoint) => ({
          id: endpoint.id,
          url: endpoint.url,
          events: endpoint.events.join(",") || "all",
          enabled: endpoint.enabled ? "yes" : `no${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ""}`,
          failingSince: endpoint.failingSince ?? "",
        })),
      );
    }),
  );

/** The tenant of an endpoint named by id alone (the command line is trusted with every tenant). */
async function endpointRef(refresca: Refresca, endpointId: string) {
  const row = await refresca.internals.store.webhooks.getEndpoint(endpointId);
  if (!row) throw new CliError(`No webhook endpoint ${endpointId}.`);
  return { tenantId: row.tenantId, endpointId };
}

webhooks
  .command("remove")
  .argument("<id>", "the endpoint's id (we_…), as `webhooks list` shows it")
  .description("Remove a webhook endpoint and its delivery log.")
  .action((id: string) =>
    withRefresca(async (refresca) => {
      const answer = await refresca.webhooks.remove(await endpointRef(refresca, id));
      if (!answer.success) throw new CliError(`${answer.error} (${answer.code})`);
      console.log(`Removed webhook endpoint ${id}.`);
    }),
  );

webhooks
  .command("test")
  .argument("<id>", "the endpoint's id (we_…)")
  .description("Send a webhook.test event to the endpoint (a running worker delivers it).")
  .action((id: string) =>
    withRefresca(async (refresca) => {
      const answer = await refresca.webhooks.test(await endpointRef(refresca, id));
      if (!answer.success) throw new CliError(`${answer.error} (${answer.code})`);
      console.log(`Queued test event ${answer.eventId} (delivery ${answer.deliveryId}); a running worker sends it within seconds.`);
    }),
  );

const keys = program.command("keys").description("Encryption keys.");
keys
  .command("generate")
  .argument("[kid]", "key id")
  .description("Print a new key entry for REFRESCA_ENCRYPTION_KEYS.")
  .action((kid?: string) => console.log(generateKeySpec(kid)));

keys
  .command("rotate")
  .option("--batch <n>", "channels re-encrypted per batch", integer("--batch", 1, 10_000), 500)
  .description("Re-encrypt every credential with the first key of REFRESCA_ENCRYPTION_KEYS (resumable; safe while refreshes run).")
  .action((options: { batch: number }) =>
    withRefresca(async (refresca) => {
      const { store, keyRing, redis, keyPrefix } = refresca.internals;
      console.error(`Re-encrypting with key "${keyRing.activeKeyId}"…`);
      const result = await rotateKeys(
        { store, keyRing, redis, keyPrefix },
        {
          batchSize: options.batch,
          onProgress: (p) => process.stderr.write(`\rre-encrypted ${p.reencrypted}, remaining ${p.remaining}   `),
        },
      );
      process.stderr.write("\n");
      const hooks = await rotateWebhookSecrets(store.webhooks, keyRing, options.batch);
      if (hooks.reencrypted > 0) console.error(`Re-encrypted ${hooks.reencrypted} webhook signing secret(s).`);
      if (hooks.unreadable.length > 0) {
        throw new CliError(
          `${hooks.unreadable.length} webhook endpoint(s) have a signing secret no configured key can decrypt: ${hooks.unreadable.join(", ")}. ` +
            "Add the key they use to REFRESCA_ENCRYPTION_KEYS and run the command again, or remove and add those endpoints.",
        );
      }
      if (result.skipped > 0) {
        const listed = result.unreadable.map((u) => `  tenant ${u.tenantId} channel ${u.channelId} (${u.source}, key "${u.keyId}": ${u.reason})`);
        const more = result.skipped > listed.length ? [`  … and ${result.skipped - listed.length} more`] : [];
        throw new CliError(
          [`Re-encrypted ${result.reencrypted} channel(s); ${result.skipped} channel(s) could not be decrypted with the configured keys and were left as they are:`, ...listed, ...more,
            "Add the key they use to REFRESCA_ENCRYPTION_KEYS and run the command again, or reconnect those channels."].join("\n"),
        );
      }
      if (result.remaining > 0) {
        throw new CliError(`${result.remaining} channel(s) still use another key (they kept changing): run the command again.`);
      }
      const others = keyRing.keyIds.filter((id) => id !== keyRing.activeKeyId);
      console.log(
        `Done: ${result.reencrypted} channel(s) re-encrypted with "${keyRing.activeKeyId}".` +
          (others.length > 0 ? ` Keys no longer used: ${others.join(", ")} — remove them from REFRESCA_ENCRYPTION_KEYS.` : ""),
      );
    }),
  );

/**
 * The dashboard is a Next.js app built from this repository's sources (src/app); the npm package ships the library,
 * the client, the Next.js drop-in and this command line, not that app.
 */
function requireWebApp(command: string): void {
  if (webAppIsHere()) return;
  throw new CliError(
    `\`refresca ${command}\` serves Refresca's own dashboard, which is not part of the npm package: run it from a clone ` +
      "of the repository (npm run demo, npm start). From this install you can run `refresca worker`, `migrate`, " +
      "`channels`, `tenants`, `api-keys`, `audit`, `keys` and `simulate`, use the library (\"refresca\"), the REST client " +
      "(\"refresca/client\") and the server actions in your own Next.js app (\"refresca/next\").",
  );
}

/** An expected failure: its message is printed alone, without a stack. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError || error instanceof CliError) {
    console.error(error.message);
    process.exitCode = error instanceof CliError ? error.exitCode : 2;
  } else {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
// The embedded server's exit hook ends the process with code 0 on its own: keep the code this command set.
process.exit(process.exitCode ?? 0);
