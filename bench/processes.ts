// Helpers for the benchmarks that run Refresca as it runs in production: `refresca worker` and `refresca simulate`
// child processes, their CPU and memory read from /proc, bulk seeding of TikTok channels, and Redis cleanup.
import { spawn, type ChildProcess } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import type { KeyRing } from "../src/core/crypto";
import type { Store } from "../src/core/store";
import { createLogger } from "../src/core/logger";
import { createRefresca } from "../src/refresca";
import { connectSimulator, SIM_TIKTOK_CLIENT_KEY, SIM_TIKTOK_CLIENT_SECRET, simulatorUrlEnv, type SimulatorControl } from "../src/simulator";
import { BENCH_ENCRYPTION_KEYS } from "./support";

const CLI = fileURLToPath(new URL("../bin/refresca.js", import.meta.url));
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** A child process running the CLI; `output` keeps its last lines of stderr for error messages. */
export interface CliProcess {
  child: ChildProcess;
  pid: number;
  output: string[];
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`); resolves to the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

function startCli(args: string[], env: NodeJS.ProcessEnv, nodeArgs: string[] = []): CliProcess {
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => {
    output.push(line);
    if (output.length > 50) output.shift();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  // A benchmark that dies must not leave its workers and simulator behind.
  const orphanGuard = () => child.kill("SIGKILL");
  process.once("exit", orphanGuard);
  void exited.then(() => process.off("exit", orphanGuard));
  return {
    child,
    pid: child.pid!,
    output,
    async stop(graceMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** `refresca simulate --port 0 --latency N` in its own process, driven through its admin API. */
export async function startSimulatorProcess(latencyMs: number): Promise<CliProcess & { url: string; control: SimulatorControl }> {
  const cli = startCli(["simulate", "--port", "0", "--latency", String(latencyMs)], { ...process.env, LOG_LEVEL: "warn" });
  const lines = createInterface({ input: cli.child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the simulator did not start:\n${cli.output.join("\n")}`)), 30_000);
    lines.on("line", (line) => {
      const found = /listening on (http:\/\/\S+)/.exec(line);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]!);
      }
    });
    cli.child.once("exit", (code) => reject(new Error(`the simulator exited (${code}):\n${cli.output.join("\n")}`)));
  });
  return { ...cli, url, control: connectSimulator(url) };
}

export interface WorkerEnvironment {
  databaseUrl: string;
  redisUrl: string;
  schema: string;
  keyPrefix: string;
  encryptionKeys: string;
  simulatorUrl: string;
  concurrency: number;
  logLevel: string;
}

/** `refresca worker` configured only through its environment variables, as an operator would run it. */
export function startWorkerProcess(config: WorkerEnvironment, nodeArgs: string[] = []): CliProcess {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: config.databaseUrl,
    REDIS_URL: config.redisUrl,
    REFRESCA_DB_SCHEMA: config.schema,
    REFRESCA_KEY_PREFIX: config.keyPrefix,
    REFRESCA_ENCRYPTION_KEYS: config.encryptionKeys,
    REFRESCA_WORKER_CONCURRENCY: String(config.concurrency),
    TIKTOK_CLIENT_KEY: SIM_TIKTOK_CLIENT_KEY,
    TIKTOK_CLIENT_SECRET: SIM_TIKTOK_CLIENT_SECRET,
    // Every platform's base URL (META_GRAPH_URL, TIKTOK_API_URL, THREADS_GRAPH_URL, …) at the simulator.
    ...simulatorUrlEnv(config.simulatorUrl),
    LOG_LEVEL: config.logLevel,
  };
  return startCli(["worker"], env, nodeArgs);
}

/** Polls until `check` answers true; throws after `timeoutMs`, naming what it waited for. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Resident memory of a process from /proc/<pid>/status, in bytes: current (VmRSS) and peak (VmHWM). */
export async function processMemory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

/** Resets a process's peak RSS (VmHWM) to its current RSS (Linux clear_refs "5"); false when not allowed. */
export async function resetPeakMemory(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples a process's RSS every `everyMs` until stopped; resolves to the highest of the samples and of VmHWM
 * (which also catches peaks between samples when it was reset at the start).
 */
export function sampleMemory(pid: number, everyMs = 50): { stop(): Promise<{ peak: number; samples: number }> } {
  let peak = 0;
  let samples = 0;
  const timer = setInterval(() => {
    processMemory(pid)
      .then(({ rss }) => ((peak = Math.max(peak, rss)), samples++))
      .catch(() => {});
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      const last = await processMemory(pid).catch(() => ({ rss: 0, peak: 0 }));
      return { peak: Math.max(peak, last.rss, last.peak), samples };
    },
  };
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at ")"; utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds used so far by each process whose command name starts with one of `names`, by name and pid. */
export async function cpuSecondsOf(names: readonly string[]): Promise<Map<string, Map<number, number>>> {
  const found = new Map<string, Map<number, number>>(names.map((name) => [name, new Map()]));
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const match = names.find((wanted) => name.startsWith(wanted));
      if (match) found.get(match)!.set(Number(entry), await processCpuSeconds(Number(entry)));
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

/** CPU seconds used between two `cpuSecondsOf` snapshots by the processes named `name` (those that ended are lost). */
export function cpuSecondsBetween(before: Map<string, Map<number, number>>, after: Map<string, Map<number, number>>, name: string): number {
  let total = 0;
  for (const [pid, seconds] of after.get(name) ?? []) total += seconds - (before.get(name)?.get(pid) ?? 0);
  return total;
}

/** The machine's busy and total CPU time so far (all cores), from /proc/stat, in seconds. */
export async function machineCpu(): Promise<{ busy: number; total: number }> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.split(/\s+/).slice(1, 9).map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy: busy / CLOCK_TICKS_PER_SECOND, total: (busy + idle! + iowait!) / CLOCK_TICKS_PER_SECOND };
}

/** Deletes every Redis key under `prefix` (SCAN + UNLINK); resolves to how many. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== "0");
  return deleted;
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}

export interface SeedChannel {
  tenantId: string;
  id: string;
  accessToken: string;
  refreshToken: string;
  expiresAt: Date;
}

/**
 * Inserts TikTok channels (and their tenants) with bulk SQL, each holding a real credential envelope encrypted
 * for it, so that workers can decrypt and refresh them.
 */
export async function seedTikTokChannels(store: Store, keyRing: KeyRing, channels: readonly SeedChannel[], chunk = 5_000): Promise<void> {
  const pool = store.connection.pool;
  const tenants = [...new Set(channels.map((channel) => channel.tenantId))];
  await pool.query("insert into tenants (id, name) select id, id from unnest($1::text[]) id on conflict do nothing", [tenants]);
  for (let start = 0; start < channels.length; start += chunk) {
    const part = channels.slice(start, start + chunk);
    await pool.query(
      `insert into channels (tenant_id, id, type, display_name, local_name, credentials, key_id, expires_at,
                             refresh_token_expires_at, has_refresh_token)
       select t, c, 'tiktok', 'Bench ' || c, '@bench', cr, $4, e, now() + interval '365 days', true
         from unnest($1::text[], $2::text[], $3::text[], $5::timestamptz[]) as s(t, c, cr, e)`,
      [
        part.map((channel) => channel.tenantId),
        part.map((channel) => channel.id),
        part.map((channel) =>
          keyRing.encrypt(
            { accessToken: channel.accessToken, refreshToken: channel.refreshToken },
            { tenantId: channel.tenantId, channelId: channel.id },
          ),
        ),
        keyRing.activeKeyId,
        part.map((channel) => channel.expiresAt),
      ],
    );
  }
}

export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** A Refresca on a benchmark's own schema and key prefix, silent, configured by nothing from the environment. */
export function openBenchRefresca(target: { databaseUrl: string; redisUrl: string; schema: string; keyPrefix: string }) {
  return createRefresca({ ...target, encryptionKeys: BENCH_ENCRYPTION_KEYS, logger: createLogger({ level: "silent" }) });
}

/** Drops a benchmark's schema and Redis keys, unless it was asked to keep them. */
export async function dropBenchData(
  target: { pool: { query(sql: string): Promise<unknown> }; redis: Redis; schema: string; keyPrefix: string; keep: boolean },
  log: (line: string) => void,
): Promise<void> {
  if (target.keep) {
    log(`Schema "${target.schema}" and keys "${target.keyPrefix}*" kept (--keep).`);
    return;
  }
  await target.pool.query(`drop schema "${target.schema}" cascade`);
  await deleteKeys(target.redis, target.keyPrefix);
}
