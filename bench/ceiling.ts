// Benchmark: what this machine allows at best, with none of Refresca's work — the ceilings that the throughput
// and sweep targets are measured against.
// Run: npx tsx bench/ceiling.ts [--concurrency 50] [--jobs 10000] [--enqueue 100000] (npm run bench:ceiling).
// Prints figures; it is not a test. See docs/BENCHMARKS.md.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { createProviders, DEFAULT_ENDPOINTS } from "../src/core/providers";
import { SIM_TIKTOK_CLIENT_KEY, SIM_TIKTOK_CLIENT_SECRET } from "../src/simulator";
import {
  cpuSecondsBetween,
  cpuSecondsOf,
  machineCpu,
  mapLimit,
  processCpuSeconds,
  startSimulatorProcess,
  waitUntil,
} from "./processes";
import { busyWarning, describeLoad, describeMachine, duration, parseOptions, positiveInteger, printFigures, serverUrls, today } from "./support";

const USAGE = `Usage: npx tsx bench/ceiling.ts [options]

Measures, on this machine, the best that BullMQ, Redis, the HTTP client and the simulator allow when Refresca does
nothing else:
  1. platform calls through BullMQ: worker processes whose job is only the TikTok refresh call (Refresca's own
     provider: same HTTP client and answer validation), against the simulator at the same latency as
     bench/throughput.ts — no database, lock, encryption, event row or next expiry job;
  2. queuing jobs: BullMQ addBulk of one job per channel with deduplication, in pages of 2,000, into a paused
     queue — what bench/sweep.ts does per channel, without reading PostgreSQL.

Options:
  --concurrency N  job slots per worker process (default 50)
  --processes N    worker processes (default 2)
  --latency MS     simulator latency (default 50)
  --jobs N         platform calls in part 1 (default 10000)
  --enqueue N      jobs queued in part 2 (default 100000)
  -h, --help       this text

Environment: REDIS_URL (default redis://127.0.0.1:6379).`;

const PAGE = 2000;
const QUEUE_PREFIX = "bench-ceiling";

interface CallJob {
  /** Which of the minted tokens to refresh: tokens reach the workers over IPC, never in job data. */
  index: number;
}

/** A worker process of part 1: its job is the platform call and nothing else. */
async function runWorkerRole(): Promise<void> {
  const { QUEUE, SIM, CONCURRENCY, REDIS_URL } = process.env;
  const providers = createProviders({
    ...DEFAULT_ENDPOINTS,
    tiktokApiUrl: SIM!,
    apps: { tiktok: { clientKey: SIM_TIKTOK_CLIENT_KEY, clientSecret: SIM_TIKTOK_CLIENT_SECRET } },
    timeoutMs: 10_000,
  });
  const provider = providers.forChannel({ type: "tiktok", meta: {} });
  const refreshTokens = await new Promise<string[]>((resolve) => process.once("message", (message) => resolve(message as string[])));
  const worker = new Worker<CallJob>(
    QUEUE!,
    async (job) => {
      await provider.refresh({
        channel: { id: job.id!, type: "tiktok", meta: {}, expiresAt: null },
        credentials: { accessToken: "unused", refreshToken: refreshTokens[job.data.index]! },
        now: new Date(),
      });
    },
    {
      connection: new Redis(REDIS_URL!, { maxRetriesPerRequest: null }),
      prefix: QUEUE_PREFIX,
      concurrency: Number(CONCURRENCY),
      removeOnComplete: { count: 10 },
      removeOnFail: { count: 50 },
    },
  );
  process.on("message", async (message) => {
    if (message !== "stop") return;
    await worker.close();
    await providers.close();
    process.exit(0);
  });
}

async function main(): Promise<void> {
  const options = parseOptions(
    {
      concurrency: { type: "string" },
      processes: { type: "string" },
      latency: { type: "string" },
      jobs: { type: "string" },
      enqueue: { type: "string" },
    },
    USAGE,
  );
  const concurrency = positiveInteger("concurrency", options.concurrency, 50);
  const processCount = positiveInteger("processes", options.processes, 2);
  const latencyMs = positiveInteger("latency", options.latency, 50);
  const jobCount = positiveInteger("jobs", options.jobs, 10_000);
  const enqueueCount = positiveInteger("enqueue", options.enqueue, 100_000);
  const { redisUrl } = serverUrls();
  const log = (message: string) => console.log(message);
  log(`Ceiling benchmark — ${today()}`);
  log(`Machine: ${describeMachine()}`);
  const busyBefore = busyWarning(1);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });

  // 1. Platform calls through BullMQ, nothing else.
  const simulator = await startSimulatorProcess(latencyMs);
  const calls = new Queue<CallJob>(`calls-${process.pid}`, { connection: redis, prefix: QUEUE_PREFIX });
  const children: ReturnType<typeof fork>[] = [];
  try {
    const tokens = await mapLimit(Array.from({ length: jobCount }), 32, () => simulator.control.issue({ platform: "tiktok" }));
    await calls.pause();
    for (let i = 0; i < jobCount; i += PAGE) {
      const page = Array.from({ length: Math.min(PAGE, jobCount - i) }, (_, k) => i + k);
      await calls.addBulk(page.map((index) => ({ name: "call", data: { index } })));
    }
    const env = { ...process.env, ROLE: "worker", QUEUE: calls.name, SIM: simulator.url, CONCURRENCY: String(concurrency), REDIS_URL: redisUrl };
    for (let i = 0; i < processCount; i++) {
      const child = fork(fileURLToPath(import.meta.url), [], { env, execArgv: ["--import", "tsx"], stdio: "inherit" });
      child.send(tokens.map((token) => token.refreshToken!));
      children.push(child);
    }
    await waitUntil(`${processCount} workers`, async () => (await calls.getWorkersCount()) >= processCount, 60_000);
    const cpuBefore = await machineCpu();
    const workersBefore = await Promise.all(children.map((child) => processCpuSeconds(child.pid!)));
    const simulatorBefore = await processCpuSeconds(simulator.pid);
    const serversBefore = await cpuSecondsOf(["redis-server"]);
    const started = performance.now();
    await calls.resume();
    await waitUntil("every call", async () => (await calls.getJobCountByTypes("wait", "active", "delayed", "prioritized")) === 0, 600_000, 25);
    const elapsedMs = performance.now() - started;
    const cpuAfter = await machineCpu();
    const workerCpu = (await Promise.all(children.map((child) => processCpuSeconds(child.pid!)))).reduce((sum, s, i) => sum + s - workersBefore[i]!, 0);
    const simulatorCpu = (await processCpuSeconds(simulator.pid)) - simulatorBefore;
    const redisCpu = cpuSecondsBetween(serversBefore, await cpuSecondsOf(["redis-server"]), "redis-server");
    const failed = await calls.getFailedCount();
    const ideal = (processCount * concurrency) / (latencyMs / 1000);
    const rate = ((jobCount - failed) / elapsedMs) * 1000;
    const perCall = (seconds: number) => `${((seconds * 1000) / jobCount).toFixed(2)} ms`;
    printFigures(`1. ${jobCount.toLocaleString("en")} platform calls through BullMQ, ${processCount} processes × C = ${concurrency}, latency ${latencyMs} ms`, [
      ["calls per second", rate.toFixed(0)],
      ["ideal (processes × C ÷ latency)", ideal.toFixed(0)],
      ["ratio", (rate / ideal).toFixed(2)],
      ["failed calls", String(failed)],
      ["machine busy", `${(((cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total)) * 100).toFixed(0)} %`],
      ["CPU per call: workers", perCall(workerCpu)],
      ["CPU per call: Redis", perCall(redisCpu)],
      ["CPU per call: simulator", perCall(simulatorCpu)],
      ["CPU per call: whole machine", perCall(cpuAfter.busy - cpuBefore.busy)],
    ]);
  } finally {
    for (const child of children) child.send("stop");
    await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)))));
    await calls.obliterate({ force: true });
    await calls.close();
    await simulator.stop();
  }

  // 2. Queuing one job per channel with deduplication, nothing else.
  const queued = new Queue(`enqueue-${process.pid}`, { connection: redis, prefix: QUEUE_PREFIX });
  try {
    await queued.pause();
    const clientBefore = await processCpuSeconds(process.pid);
    const serversBefore = await cpuSecondsOf(["redis-server"]);
    const started = performance.now();
    for (let i = 0; i < enqueueCount; i += PAGE) {
      const page = Array.from({ length: Math.min(PAGE, enqueueCount - i) }, (_, k) => `ch-${String(i + k).padStart(6, "0")}`);
      await queued.addBulk(page.map((channelId) => ({
        name: "refresh",
        data: { tenantId: "bench-tenant", channelId, trigger: "sweep" },
        opts: { deduplication: { id: `bench-tenant:${channelId}`, reschedule: true } },
      })));
    }
    const elapsedMs = performance.now() - started;
    const clientCpu = (await processCpuSeconds(process.pid)) - clientBefore;
    const redisCpu = cpuSecondsBetween(serversBefore, await cpuSecondsOf(["redis-server"]), "redis-server");
    printFigures(`2. Queuing ${enqueueCount.toLocaleString("en")} jobs with deduplication (addBulk, pages of ${PAGE})`, [
      ["time", duration(elapsedMs)],
      ["client CPU per job", `${((clientCpu * 1e6) / enqueueCount).toFixed(0)} µs`],
      ["Redis CPU per job", `${((redisCpu * 1e6) / enqueueCount).toFixed(0)} µs`],
    ]);
  } finally {
    await queued.obliterate({ force: true });
    await queued.close();
  }
  log(`(after the runs: ${describeLoad()})`);
  const warning = busyBefore ?? busyWarning();
  if (warning) log(warning);
  redis.disconnect();
}

if (process.env.ROLE === "worker") {
  await runWorkerRole();
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
