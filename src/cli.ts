import { readFile } from "node:fs/promises";
import { Command, InvalidArgumentError } from "commander";
import { ConfigError, loadConfig } from "./config";
import { generateKeySpec } from "./core/crypto";
import { createLogger } from "./core/logger";
import pino from "pino";
import { createRefresca, type Refresca, type RefrescaOptions } from "./refresca";
import { runDemo } from "./demo/cli-demo";
import { startSimulator } from "./simulator";

// The CLI is an entry point: the one place (with the worker) that reads process.env.
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

async function withRefresca<T>(work: (refresca: Refresca) => Promise<T>, options: RefrescaOptions = {}): Promise<T> {
  const refresca = await createRefresca({ logger: cliLogger(), ...options });
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
  .command("simulate")
  .description("Run the platform simulator (Meta Graph, Instagram, TikTok v2) on a local port.")
  .option("--port <n>", "port", integer("--port", 0, 65535), 4010)
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .option("--latency <ms>", "delay of every platform answer", integer("--latency", 0, 60_000), 0)
  .action(async (options: { port: number; host: string; latency: number }) => {
    const simulator = await startSimulator({ port: options.port, host: options.host, latencyMs: options.latency });
    console.log(`Platform simulator listening on ${simulator.url} (admin API under ${simulator.url}/_sim/)`);
    console.log(`Point Refresca at it: META_GRAPH_URL=${simulator.url} INSTAGRAM_GRAPH_URL=${simulator.url} TIKTOK_API_URL=${simulator.url}`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await simulator.close();
  });

program
  .command("demo")
  .description("Seed a demo tenant against the built-in simulator and refresh its tokens, showing each step.")
  .action(() => runDemo(loadConfig(), cliLogger()));

/**
 * Runs workers until SIGTERM or SIGINT, then shuts down gracefully: stop taking jobs, let active ones finish within
 * REFRESCA_SHUTDOWN_TIMEOUT_MS, close connections, stop the embedded PostgreSQL if this process started it.
 */
async function runWorker(kind: "worker" | "start") {
  const config = loadConfig();
  const logger = cliLogger();
  const refresca = await createRefresca({ logger });
  // Starting the embedded server installs a signal hook that exits as soon as the server is stopped; this process
  // shuts down in its own order instead (jobs first, database last).
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(signal);
  await refresca.startWorker();
  const metricsServer =
    config.worker.metricsPort !== undefined ? await refresca.metrics.serve(config.worker.metricsPort) : undefined;
  if (metricsServer) logger.info({ port: config.worker.metricsPort }, "metrics served on /metrics");
  logger.info({ kind, database: config.databaseUrl ? "DATABASE_URL" : `embedded in ${config.dataDir}` }, "Refresca is running");
  const signal = await new Promise<string>((resolve) => {
    for (const name of ["SIGINT", "SIGTERM", "SIGHUP"]) process.once(name, () => resolve(name));
  });
  logger.info({ signal }, "shutting down");
  metricsServer?.close();
  await refresca.close();
}

program
  .command("worker")
  .description("Process refresh and sweep jobs (run any number, on any machines, against one PostgreSQL and Redis).")
  .action(() => runWorker("worker"));

program
  .command("start")
  .description("Start Refresca: the embedded PostgreSQL when DATABASE_URL is unset, then the worker.")
  .action(() => runWorker("start"));

const keys = program.command("keys").description("Encryption keys.");
keys
  .command("generate")
  .argument("[kid]", "key id")
  .description("Print a new key entry for REFRESCA_ENCRYPTION_KEYS.")
  .action((kid?: string) => console.log(generateKeySpec(kid)));

/** An expected failure: its message is printed alone, without a stack. */
class CliError extends Error {}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError || error instanceof CliError) {
    console.error(error.message);
    process.exitCode = 2;
  } else {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
// The embedded server's exit hook ends the process with code 0 on its own: keep the code this command set.
process.exit(process.exitCode ?? 0);
