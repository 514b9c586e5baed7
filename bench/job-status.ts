// Benchmark: the cost of getTokenRefreshJobsStatus as a tenant's number of jobs grows (issue 10, fault 7).
// Run: npx tsx bench/job-status.ts [--jobs 200,2000,20000]   Prints figures; it is not a test. See docs/BENCHMARKS.md.
import type { Redis } from "ioredis";
import { deleteKeys, openBenchRefresca } from "./processes";
import { describeLoad, describeMachine, ms, parseOptions, positiveInteger, printTable, serverUrls, summarize, today } from "./support";

const USAGE = `Usage: npx tsx bench/job-status.ts [options]

For each N: queues N refresh jobs of one tenant (delayed an hour, as scheduled refreshes; a tenth due now, waiting:
no worker runs), then calls getTokenRefreshJobsStatus for that tenant --calls times and reports the time per call
seen by the caller and the time Redis spent in the call's script (INFO commandstats), which blocks every other
client of that Redis meanwhile.

Options:
  --jobs LIST    tenant job counts, comma-separated (default 200,2000,20000)
  --calls N      calls measured per count (default 300)
  --schema NAME  PostgreSQL schema (default bench_job_status)
  --prefix P     Redis key prefix (default bench-job-status:)
  -h, --help     this text

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), REDIS_URL (default redis://127.0.0.1:6379).`;

const options = parseOptions(
  { jobs: { type: "string" }, calls: { type: "string" }, schema: { type: "string" }, prefix: { type: "string" } },
  USAGE,
);
const counts = (options.jobs ?? "200,2000,20000").split(",").map((value) => positiveInteger("jobs", value.trim(), 0));
const calls = positiveInteger("calls", options.calls, 300);
const schema = options.schema ?? "bench_job_status";
const keyPrefix = options.prefix ?? "bench-job-status:";
const { databaseUrl, redisUrl } = serverUrls();

/** Calls and microseconds Redis spent in EVAL / EVALSHA so far. */
async function scriptStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  const info = await redis.info("commandstats");
  let calls = 0;
  let usec = 0;
  for (const match of info.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+),usec=(\d+)/gm)) {
    calls += Number(match[1]);
    usec += Number(match[2]);
  }
  return { calls, usec };
}

async function main(): Promise<void> {
  console.log(`Per-tenant job status benchmark — ${today()}`);
  console.log(`Machine: ${describeMachine()}`);
  const refresca = await openBenchRefresca({ databaseUrl, redisUrl, schema, keyPrefix });
  const { queue, redis, store } = refresca.internals;
  const rows: string[][] = [];
  try {
    for (const count of counts) {
      await deleteKeys(redis, keyPrefix);
      const tenantId = `bench-${count}`;
      await store.connection.pool.query("insert into tenants (id, name) values ($1, $1) on conflict do nothing", [tenantId]);
      for (let start = 0; start < count; start += 500) {
        await Promise.all(
          Array.from({ length: Math.min(500, count - start) }, (_, i) =>
            queue.enqueueRefresh(tenantId, `c${start + i}`, { delayMs: (start + i) % 10 === 0 ? 0 : 3_600_000, trigger: "scheduled" }),
          ),
        );
      }
      const answer = await refresca.getTokenRefreshJobsStatus({ tenantId });
      if (!answer.success) throw new Error(answer.error);
      const samples: number[] = [];
      for (let i = 0; i < 20; i++) await refresca.getTokenRefreshJobsStatus({ tenantId });
      const before = await scriptStats(redis);
      for (let i = 0; i < calls; i++) {
        const started = performance.now();
        await refresca.getTokenRefreshJobsStatus({ tenantId });
        samples.push(performance.now() - started);
      }
      const after = await scriptStats(redis);
      const summary = summarize(samples);
      const scriptUs = (after.usec - before.usec) / Math.max(1, after.calls - before.calls);
      rows.push([
        count.toLocaleString("en"),
        `${answer.jobsWaiting} / ${answer.jobsDelayed}`,
        ms(summary.p50),
        ms(summary.p95),
        `${(scriptUs / 1000).toFixed(3)} ms`,
      ]);
    }
    printTable(`getTokenRefreshJobsStatus, ${calls} calls per count`, ["tenant's jobs", "waiting / delayed", "p50", "p95", "Redis script per call"], rows);
    console.log(describeLoad());
  } finally {
    await deleteKeys(redis, keyPrefix);
    await store.connection.pool.query(`drop schema if exists "${schema}" cascade`);
    await refresca.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
