import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";

export interface RedisForDemo {
  url: string;
  /** True when this process started a private redis-server (stopped by `stop`). */
  started: boolean;
  stop(): Promise<void>;
}

/** No Redis answers and none can be started here: the message says how to get one. */
export class RedisMissingError extends Error {}

/** Whether a Redis answers PING at `url` within a second or two. */
export async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * The demo's Redis: the one at `url` when it answers; else, when `redis-server` is installed, a private one on a free
 * local port with its files in `<dataDir>/redis` and no persistence (what the queue needs is rebuilt from SQL);
 * else a RedisMissingError that says how to start one.
 */
export async function ensureRedisForDemo(url: string, dataDir: string, log: (message: string) => void): Promise<RedisForDemo> {
  if (await redisAnswers(url)) return { url, started: false, stop: async () => {} };
  if (spawnSync("redis-server", ["--version"], { stdio: "ignore" }).error) {
    throw new RedisMissingError(
      [
        `Redis does not answer at ${safeUrl(url)}, and redis-server is not installed here. Start a Redis, then run the demo again:`,
        "  docker run --rm -p 6379:6379 redis:7                      (with Docker)",
        "  sudo apt-get install -y redis-server && redis-server      (Debian/Ubuntu)",
        "  brew install redis && redis-server                        (macOS)",
        "or point REDIS_URL at one you have (redis://host:port).",
      ].join("\n"),
    );
  }
  const dir = path.join(dataDir, "redis");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pidFile = path.join(dir, "redis.pid");
  await stopLeftover(pidFile);
  const port = await freePort();
  log(`Redis does not answer at ${safeUrl(url)}: starting a private redis-server on 127.0.0.1:${port} (files in ${dir}).`);
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
      "--pidfile", pidFile, "--logfile", path.join(dir, "redis.log"), "--daemonize", "no"],
    // Its own process group: a Ctrl-C reaches the demo, which stops Redis last, after the workers that use it.
    { stdio: "ignore", detached: true },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const privateUrl = `redis://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 10_000; !(await redisAnswers(privateUrl)); ) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`The private redis-server did not start; see ${path.join(dir, "redis.log")}.`);
    }
    await sleep(100);
  }
  return {
    url: privateUrl,
    started: true,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
      await rm(pidFile, { force: true });
    },
  };
}

/** A private Redis left by a demo that was killed: stop it, after checking the pid is still a redis-server. */
async function stopLeftover(pidFile: string): Promise<void> {
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  let command = "";
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return;
  }
  if (command.includes("redis-server")) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a TCP port on `host` can be bound now. */
export function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export { freePort };

/** The URL without its password, for messages. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "REDIS_URL";
  }
}
