import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { refrescaEnvFor } from "../../src/simulator";
import type { Harness } from "./harness";
import { waitFor } from "./wait";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// Variables that configure Refresca: a worker process gets only the ones the test gives it.
const OWN_VARIABLES = /^(REFRESCA_|META_|TIKTOK_|INSTAGRAM_|METRICS_PORT$|METRICS_HOST$|DATABASE_URL$|REDIS_URL$|LOG_LEVEL$)/;

/** A free TCP port on 127.0.0.1 (free when asked; good enough for a test's private server). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The environment of a `refresca worker` that shares the harness's schema, key prefix, keys, simulator and apps. */
export function workerEnv(h: Harness, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { options } = h;
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !OWN_VARIABLES.test(name)));
  return {
    ...env,
    DATABASE_URL: options.databaseUrl!,
    REDIS_URL: options.redisUrl!,
    REFRESCA_DB_SCHEMA: options.schema!,
    REFRESCA_KEY_PREFIX: options.keyPrefix!,
    REFRESCA_ENCRYPTION_KEYS: options.encryptionKeys!,
    ...refrescaEnvFor(h.simulator.url),
    REFRESCA_PLATFORM_TIMEOUT_MS: String(options.platformTimeoutMs ?? 3000),
    LOG_LEVEL: "info",
    ...extra,
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Its log lines (JSON from stderr) and anything else it printed. */
  output: string[];
  /** Resolves when the process has exited, with its code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills it (SIGKILL unless told) and waits for it to be gone; a no-op once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Spawns `node bin/refresca.js worker` and resolves once it says it is running (its worker has started). */
export async function startWorkerProcess(env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ["bin/refresca.js", "worker"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on("line", (line) => output.push(line));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => ((done = true), resolve({ code, signal }))),
  );
  const worker: WorkerProcess = {
    child,
    output,
    exited,
    async stop(signal = "SIGKILL") {
      if (done) return;
      child.kill(signal);
      await exited;
    },
  };
  try {
    await waitFor(
      "the worker process to start",
      async () => {
        if (done) throw new Error(`the worker process exited at start:\n${output.join("\n")}`);
        return output.some((line) => line.includes('"msg":"Refresca is running"'));
      },
      timeoutMs,
    );
  } catch (error) {
    await worker.stop();
    throw error;
  }
  return worker;
}

/** A private `redis-server` that keeps nothing on disk: kill it to lose everything, start it again empty. */
export interface RedisServer {
  port: number;
  url: string;
  /** SIGKILLs the server and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts an empty server on the same port and waits until it answers. */
  start(): Promise<void>;
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<unknown> = Promise.resolve();
  const server: RedisServer = {
    port,
    url,
    async kill() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
    async start() {
      child = spawn("redis-server", ["--save", "", "--appendonly", "no", "--port", String(port), "--bind", "127.0.0.1"], {
        stdio: "ignore",
      });
      const started = child;
      exited = new Promise((resolve) => started.once("exit", resolve));
      started.once("error", () => {});
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on("error", () => {});
      try {
        await waitFor(
          "redis-server to answer",
          async () => {
            if (started.exitCode !== null) throw new Error(`redis-server exited with code ${started.exitCode}`);
            try {
              if (probe.status !== "ready") await probe.connect();
              return (await probe.ping()) === "PONG";
            } catch {
              probe.disconnect();
              return false;
            }
          },
          10_000,
        );
      } finally {
        probe.disconnect();
      }
    },
  };
  await server.start();
  return server;
}
