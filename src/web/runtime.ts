import pino from "pino";
import { loadConfig, LOG_LEVELS, resolveSessionSecret } from "../config";
import { createLogger, type Logger } from "../core/logger";
import { createRefrescaFromConfig } from "../from-env";
import type { Refresca } from "../refresca";
import { sessionKey } from "./session";

/** What the web app's server code shares: one Refresca per process, and the session settings. */
export interface WebRuntime {
  refresca: Refresca;
  logger: Logger;
  sessionKey: Uint8Array;
  adminKey?: string;
  trustProxy: boolean;
}

// On globalThis so that one process keeps one instance (one pool, one Redis connection) across the module copies a
// bundler may create and across development reloads.
const slot = globalThis as typeof globalThis & { __refrescaWeb?: Promise<WebRuntime> };

/** The web process's Refresca, created on first use from the environment (this is the web app's entry point). */
export function webRuntime(): Promise<WebRuntime> {
  slot.__refrescaWeb ??= start().catch((error: unknown) => {
    slot.__refrescaWeb = undefined; // the next request tries again (the database may be starting)
    throw error;
  });
  return slot.__refrescaWeb;
}

/** Logs of the web process go to stderr, like the CLI's. */
const level = LOG_LEVELS.find((name) => name === process.env.LOG_LEVEL?.trim()) ?? "info"; // loadConfig names a bad value
export const webLogger: Logger = createLogger({
  level,
  destination: pino.destination(2),
  name: "refresca-web",
});

async function start(): Promise<WebRuntime> {
  const config = loadConfig(process.env);
  const logger = webLogger;
  const secret = await resolveSessionSecret(config, (message) => logger.info(message));
  // Not migrating: bundled code cannot find the migration files, and `refresca web` migrated before serving.
  const refresca = await createRefrescaFromConfig(config, { logger, migrate: false });
  return {
    refresca,
    logger,
    sessionKey: sessionKey(secret),
    ...(config.web.adminKey !== undefined && { adminKey: config.web.adminKey }),
    trustProxy: config.web.trustProxy,
  };
}

/** Closes the Refresca of the web app, if it was created (at the web process's shutdown). */
export async function closeWebRuntime(): Promise<void> {
  const runtime = await slot.__refrescaWeb?.catch(() => undefined);
  slot.__refrescaWeb = undefined;
  await runtime?.refresca.close();
}
