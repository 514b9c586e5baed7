// Benchmark: refreshes per second of `refresca worker` processes against a platform answering in 50 ms.
// Run: npx tsx bench/throughput.ts [--concurrency 3,20,50] [--channels 10000] [--processes 2] [--latency 50]
//      (npm run bench:throughput). Prints figures; it is not a test. See docs/BENCHMARKS.md.
import {
  cpuSecondsBetween,
  dropBenchData,
  cpuSecondsOf,
  deleteKeys,
  machineCpu,
  mapLimit,
  mib,
  processCpuSeconds,
  processMemory,
  seedTikTokChannels,
  startSimulatorProcess,
  startWorkerProcess,
  openBenchRefresca,
  waitUntil,
  type CliProcess,
  type SeedChannel,
} from "./processes";
import {
  BENCH_ENCRYPTION_KEYS,
  busyWarning,
  describeLoad,
  describeMachine,
  duration,
  parseOptions,
  positiveInteger,
  printTable,
  serverUrls,
  today,
} from "./support";

const TARGET_RATIO = 0.9;
const ISSUE_PARALLELISM = 32;
const SERVERS = ["postgres", "redis-server"] as const;

const USAGE = `Usage: npx tsx bench/throughput.ts [options]

Seeds TikTok channels whose tokens the simulator issued, then for each concurrency C starts worker processes
(\`refresca worker\`, REFRESCA_WORKER_CONCURRENCY=C), queues one refresh job per channel and measures the time
until every channel was refreshed: refreshes per second, and the ratio to the ideal processes × C ÷ latency.

Options:
  --concurrency LIST  worker concurrencies to measure, comma-separated (default 3,20,50)
  --channels N        channels refreshed per run (default 10000)
  --tenants N         tenants the channels are spread over (default 10)
  --processes N       worker processes (default 2)
  --latency MS        simulator latency of every platform answer (default 50)
  --log-level LEVEL   LOG_LEVEL of the workers (default warn; info logs one line per refresh)
  --cpu-prof DIR      run the workers with --cpu-prof, writing profiles into DIR
  --schema NAME       PostgreSQL schema (default bench_throughput)
  --prefix PREFIX     Redis key prefix (default bench-throughput:)
  --keep              keep the schema and the Redis keys at the end
  -h, --help          this text

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), REDIS_URL (default redis://127.0.0.1:6379).`;

const options = parseOptions(
  {
    concurrency: { type: "string" },
    channels: { type: "string" },
    tenants: { type: "string" },
    processes: { type: "string" },
    latency: { type: "string" },
    "log-level": { type: "string" },
    "cpu-prof": { type: "string" },
    schema: { type: "string" },
    prefix: { type: "string" },
    keep: { type: "boolean" },
  },
  USAGE,
);
const concurrencies = (options.concurrency ?? "3,20,50").split(",").map((value) => positiveInteger("concurrency", value.trim(), 0));
const channelCount = positiveInteger("channels", options.channels, 10_000);
const tenantCount = positiveInteger("tenants", options.tenants, 10);
const processCount = positiveInteger("processes", options.processes, 2);
const latencyMs = positiveInteger("latency", options.latency, 50);
const logLevel = options["log-level"] ?? "warn";
const schema = options.schema ?? "bench_throughput";
const keyPrefix = options.prefix ?? "bench-throughput:";
const { databaseUrl, redisUrl } = serverUrls();
const log = (message: string) => console.log(message);

interface Run {
  concurrency: number;
  enqueueMs: number;
  elapsedMs: number;
  refreshed: number;
  failedAttempts: number;
  ideal: number;
  machineBusy: number;
  workerCpu: number;
  simulatorCpu: number;
  postgresCpu: number;
  redisCpu: number;
  machineCpu: number;
  workerPeakRss: number;
  maxInFlight: number;
}

async function main(): Promise<void> {
  log(`Throughput benchmark — schema "${schema}", prefix "${keyPrefix}", ${today()}`);
  log(`Machine: ${describeMachine()}`);
  const busyBefore = busyWarning(1);

  const simulator = await startSimulatorProcess(latencyMs);
  log(`Simulator: ${simulator.url} (pid ${simulator.pid}), latency ${latencyMs} ms`);
  const refresca = await openBenchRefresca({ databaseUrl, redisUrl, schema, keyPrefix });
  const { store, keyRing, queue, redis } = refresca.internals;
  const pool = store.connection.pool;
  const workers: CliProcess[] = [];
  try {
    // 1. Seeding, timed apart from the measured runs.
    await pool.query("truncate channels, tenants, refresh_events, refresh_schedules");
    await deleteKeys(redis, keyPrefix);
    const issueStarted = performance.now();
    const tokens = await mapLimit(Array.from({ length: channelCount }), ISSUE_PARALLELISM, () =>
      simulator.control.issue({ platform: "tiktok", accessExpiresInSeconds: 1800 }),
    );
    const issueMs = performance.now() - issueStarted;
    const seedStarted = performance.now();
    const seeds: SeedChannel[] = tokens.map((token, index) => ({
      tenantId: `bench-t${String(index % tenantCount).padStart(3, "0")}`,
      id: `ch-${String(index).padStart(6, "0")}`,
      accessToken: token.accessToken,
      refreshToken: token.refreshToken!,
      expiresAt: new Date(token.expiresAt!),
    }));
    await seedTikTokChannels(store, keyRing, seeds);
    await pool.query("vacuum analyze channels");
    log(`Seeded ${channelCount.toLocaleString("en")} channels in ${tenantCount} tenants: tokens issued in ${duration(issueMs)}, ` +
      `encrypted and inserted in ${duration(performance.now() - seedStarted)}.`);

    const runs: Run[] = [];
    for (const concurrency of concurrencies) {
      // 2. Reset: every channel due again (keeping its current, valid tokens), no jobs, no events.
      await pool.query(
        `update channels set expires_at = now() + interval '30 minutes', last_attempt_at = null, last_outcome = null,
                             status = 'active', failure_count = 0`,
      );
      await pool.query("truncate refresh_events");
      await deleteKeys(redis, keyPrefix);
      const { rows: due } = await pool.query<{ tenantId: string; id: string; expiresAt: Date }>(
        `select tenant_id as "tenantId", id, expires_at as "expiresAt" from channels order by tenant_id, id`,
      );
      const byTenant = new Map<string, typeof due>();
      for (const row of due) {
        if (!byTenant.has(row.tenantId)) byTenant.set(row.tenantId, []);
        byTenant.get(row.tenantId)!.push(row);
      }

      // 3. Workers, configured through their environment only.
      const profileArgs = options["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${options["cpu-prof"]}`] : [];
      for (let i = 0; i < processCount; i++) {
        workers.push(
          startWorkerProcess(
            { databaseUrl, redisUrl, schema, keyPrefix, encryptionKeys: BENCH_ENCRYPTION_KEYS, simulatorUrl: simulator.url, concurrency, logLevel },
            profileArgs,
          ),
        );
      }
      await waitUntil(`${processCount} workers`, async () => (await queue.refresh.getWorkersCount()) >= processCount, 60_000).catch((error) => {
        throw new Error(`${(error as Error).message}\n${workers.flatMap((worker) => worker.output).join("\n")}`);
      });
      await new Promise((resolve) => setTimeout(resolve, 500)); // let their start-up reconcile finish

      // 4. Measured: enqueue one refresh per channel, until every channel has its successful refresh event.
      const cpuBefore = await machineCpu();
      const workerCpuBefore = await Promise.all(workers.map((worker) => processCpuSeconds(worker.pid)));
      const simulatorCpuBefore = await processCpuSeconds(simulator.pid);
      const serversBefore = await cpuSecondsOf(SERVERS);
      const started = performance.now();
      for (const [tenantId, channels] of byTenant) await queue.enqueueMany(tenantId, channels, "sweep");
      const enqueueMs = performance.now() - started;
      const ideal = (processCount * concurrency) / (latencyMs / 1000);
      const timeoutMs = 60_000 + (10 * channelCount * 1000) / ideal;
      let refreshed = 0;
      let failedAttempts = 0;
      await waitUntil(
        `${channelCount} refreshes at C=${concurrency}`,
        async () => {
          const { rows } = await pool.query<{ refreshed: number; failed: number }>(
            `select count(*) filter (where outcome = 'success')::int as refreshed,
                    count(*) filter (where outcome <> 'success')::int as failed
               from refresh_events`,
          );
          ({ refreshed, failed: failedAttempts } = rows[0]!);
          return refreshed >= channelCount;
        },
        timeoutMs,
        25,
      );
      const elapsedMs = performance.now() - started;
      const cpuAfter = await machineCpu();
      const workerCpu = (await Promise.all(workers.map((worker) => processCpuSeconds(worker.pid)))).reduce(
        (sum, seconds, index) => sum + seconds - workerCpuBefore[index]!,
        0,
      );
      const simulatorCpu = (await processCpuSeconds(simulator.pid)) - simulatorCpuBefore;
      const serversAfter = await cpuSecondsOf(SERVERS);
      const workerPeakRss = Math.max(...(await Promise.all(workers.map(async (worker) => (await processMemory(worker.pid)).peak))));
      const stats = await simulator.control.stats();
      const run: Run = {
        concurrency,
        enqueueMs,
        elapsedMs,
        refreshed,
        failedAttempts,
        ideal,
        machineBusy: (cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total),
        workerCpu,
        simulatorCpu,
        postgresCpu: cpuSecondsBetween(serversBefore, serversAfter, "postgres"),
        redisCpu: cpuSecondsBetween(serversBefore, serversAfter, "redis-server"),
        machineCpu: cpuAfter.busy - cpuBefore.busy,
        workerPeakRss,
        maxInFlight: stats.maxConcurrent,
      };
      runs.push(run);
      const rate = (refreshed / elapsedMs) * 1000;
      log(`  C=${concurrency}: ${refreshed} refreshes in ${duration(elapsedMs)} → ${rate.toFixed(0)}/s ` +
        `(ideal ${ideal.toFixed(0)}/s, ratio ${(rate / ideal).toFixed(2)}; ${describeLoad()})`);

      // 5. Stop the workers (SIGTERM: graceful) before the next run.
      const codes = await Promise.all(workers.map((worker) => worker.stop()));
      if (codes.some((code) => code !== 0)) log(`  note: worker exit codes ${codes.join(", ")}`);
      workers.length = 0;
    }

    printTable(
      `Refresh throughput — ${channelCount.toLocaleString("en")} due TikTok channels, ${processCount} worker processes, simulator latency ${latencyMs} ms`,
      ["C", "enqueue", "all refreshed", "refreshes/s", "ideal/s", "ratio", "failed attempts", "machine busy", "worker peak RSS", "max in flight"],
      runs.map((run) => {
        const rate = (run.refreshed / run.elapsedMs) * 1000;
        return [
          String(run.concurrency),
          duration(run.enqueueMs),
          duration(run.elapsedMs),
          rate.toFixed(0),
          run.ideal.toFixed(0),
          (rate / run.ideal).toFixed(2),
          String(run.failedAttempts),
          `${(run.machineBusy * 100).toFixed(0)} %`,
          mib(run.workerPeakRss),
          String(run.maxInFlight),
        ];
      }),
    );
    const perRefresh = (seconds: number, run: Run) => ((seconds * 1000) / run.refreshed).toFixed(2);
    printTable(
      "CPU milliseconds per refresh (PostgreSQL and Redis: every client of the servers, so other work on them counts too)",
      ["C", "workers", "PostgreSQL", "Redis", "simulator", "whole machine"],
      runs.map((run) => [
        String(run.concurrency),
        perRefresh(run.workerCpu, run),
        perRefresh(run.postgresCpu, run),
        perRefresh(run.redisCpu, run),
        perRefresh(run.simulatorCpu, run),
        perRefresh(run.machineCpu, run),
      ]),
    );
    const last = runs.find((run) => run.concurrency === 50);
    if (last) {
      const ratio = (last.refreshed / last.elapsedMs) * 1000 / last.ideal;
      log(`\ntarget ratio ≥ ${TARGET_RATIO} at C = 50: ${ratio >= TARGET_RATIO ? "met" : "not met"} (${ratio.toFixed(2)})`);
    }
    log(`(after the runs: ${describeLoad()})`);
    const warning = busyBefore ?? busyWarning();
    if (warning) log(warning);
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await dropBenchData({ pool, redis, schema, keyPrefix, keep: Boolean(options.keep) }, log);
    await refresca.close();
    await simulator.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
