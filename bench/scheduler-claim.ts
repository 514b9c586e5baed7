// Benchmark: the scheduler's claim of due channels (store.plans.claimDue) with 1,000,000 channels in PostgreSQL.
// Run: npx tsx bench/scheduler-claim.ts [--channels 1000000] [--batch 100]   Prints figures; it is not a test.
// See docs/BENCHMARKS.md.
import { describeLoad, describeMachine, ms, parseOptions, positiveInteger, printFigures, serverUrls, summarize, today } from "./support";
import { deleteKeys, openBenchRefresca } from "./processes";

const USAGE = `Usage: npx tsx bench/scheduler-claim.ts [options]

Seeds N channels in PostgreSQL (kept between runs: --reseed to seed again), their plans spread as in steady state:
TikTok channels due over the next day, Meta's over the next 53 days. Then measures the claim every worker's scheduler
runs every 5 s (store.plans.claimDue: the channels due within 2 minutes, locked with SKIP LOCKED and moved one lease
ahead), in three situations:
  1. idle ticks: the usual case, a handful of channels due in the window;
  2. a backlog: DUE channels made due now (an outage, or workers stopped for a while), claimed --batch at a time
     until none is left — the cost of each claim of a full batch;
  3. two schedulers claiming the same backlog at once: no channel is claimed twice.

Options:
  --channels N   channels seeded (default 1000000)
  --due N        channels of the backlog (default 20000)
  --batch N      channels per claim (default 100, the default claimBatch)
  --ticks N      idle ticks measured (default 200)
  --schema NAME  PostgreSQL schema (default bench_scheduler_claim)
  --reseed       drop and seed the schema again
  --drop         drop the schema at the end
  -h, --help     this text

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), REDIS_URL (default redis://127.0.0.1:6379).`;

const options = parseOptions(
  {
    channels: { type: "string" },
    due: { type: "string" },
    batch: { type: "string" },
    ticks: { type: "string" },
    schema: { type: "string" },
    reseed: { type: "boolean" },
    drop: { type: "boolean" },
  },
  USAGE,
);
const channelCount = positiveInteger("channels", options.channels, 1_000_000);
const dueCount = positiveInteger("due", options.due, 20_000);
const batch = positiveInteger("batch", options.batch, 100);
const ticks = positiveInteger("ticks", options.ticks, 200);
const schema = options.schema ?? "bench_scheduler_claim";
const keyPrefix = "bench-scheduler-claim:";
const { databaseUrl, redisUrl } = serverUrls();
const AHEAD_MS = 120_000;
const LEASE_MS = 300_000;
const SEED_CHUNK = 50_000;

async function main(): Promise<void> {
  console.log(`Scheduler claim benchmark — ${channelCount.toLocaleString("en")} channels, batch ${batch}, ${today()}`);
  console.log(`Machine: ${describeMachine()}`);
  if (options.reseed) {
    const dropper = await openBenchRefresca({ databaseUrl, redisUrl, schema, keyPrefix });
    await dropper.internals.store.connection.pool.query(`drop schema if exists "${schema}" cascade`);
    await dropper.close();
  }
  const refresca = await openBenchRefresca({ databaseUrl, redisUrl, schema, keyPrefix });
  const { store, redis } = refresca.internals;
  const pool = store.connection.pool;
  try {
    const { rows } = await pool.query<{ n: number }>("select count(*)::int as n from channels");
    if (rows[0]!.n !== channelCount) {
      await pool.query("truncate channels, tenants cascade");
      await pool.query("insert into tenants (id, name) select 'bench-' || i, 'bench-' || i from generate_series(0, 99) i");
      const started = performance.now();
      for (let from = 0; from < channelCount; from += SEED_CHUNK) {
        const to = Math.min(channelCount, from + SEED_CHUNK) - 1;
        // A quarter TikTok (due within a day), the rest Meta (due within 53 days), each plan before its expiry.
        await pool.query(
          `insert into channels (tenant_id, id, type, display_name, local_name, credentials, key_id, expires_at,
                                 has_refresh_token, next_refresh_at)
           select 'bench-' || (i % 100), 'c' || i, p, 'Bench ' || i, '@bench', 'v1.bench', 'bench',
                  plan + case when p = 'tiktok' then interval '10 minutes' else interval '7 days' end, true, plan
             from (select i, case when i % 4 = 0 then 'tiktok' else 'facebook' end as p,
                          now() + interval '5 minutes' + random() * case when i % 4 = 0 then interval '1 day' else interval '53 days' end as plan
                     from generate_series($1::int, $2::int) i) s`,
          [from, to],
        );
        process.stderr.write(`\rseeded ${(to + 1).toLocaleString("en")}`);
      }
      process.stderr.write("\n");
      console.log(`Seeded ${channelCount.toLocaleString("en")} channels in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
    }
    // Plans an earlier run left due (its backlog, claimed and leased) go back to steady state.
    await pool.query(
      `update channels set next_refresh_at = now() + interval '5 minutes' + random() * interval '1 day'
        where next_refresh_at < now() + interval '10 minutes'`,
    );
    await pool.query("vacuum analyze channels");
    console.log(describeLoad());

    // 1. Idle ticks: nothing (or a few channels) due within the window, as almost always.
    const idle: number[] = [];
    let idleClaimed = 0;
    for (let i = 0; i < ticks + 10; i++) {
      const started = performance.now();
      const claims = await store.plans.claimDue(AHEAD_MS, LEASE_MS, batch);
      if (i >= 10) idle.push(performance.now() - started);
      idleClaimed += claims.length;
    }

    // 2. A backlog of DUE channels due now, claimed a batch at a time.
    await pool.query(
      `update channels set next_refresh_at = now() - random() * interval '10 minutes'
        where (tenant_id, id) in (select tenant_id, id from channels where type = 'tiktok' order by id limit $1)`,
      [dueCount],
    );
    await pool.query("vacuum analyze channels");
    const full: number[] = [];
    let claimed = 0;
    for (;;) {
      const started = performance.now();
      const claims = await store.plans.claimDue(AHEAD_MS, LEASE_MS, batch);
      const elapsed = performance.now() - started;
      if (claims.length === 0) break;
      if (claims.length === batch) full.push(elapsed);
      claimed += claims.length;
    }

    // 3. The same backlog again, claimed by two schedulers at once.
    await pool.query(
      `update channels set next_refresh_at = now() - interval '1 minute'
        where (tenant_id, id) in (select tenant_id, id from channels where type = 'tiktok' order by id limit $1)`,
      [dueCount],
    );
    const seen = new Map<string, number>();
    const claimer = async () => {
      for (;;) {
        const claims = await store.plans.claimDue(AHEAD_MS, LEASE_MS, batch);
        if (claims.length === 0) return;
        for (const claim of claims) seen.set(`${claim.tenantId}/${claim.id}`, (seen.get(`${claim.tenantId}/${claim.id}`) ?? 0) + 1);
      }
    };
    const together = performance.now();
    await Promise.all([claimer(), claimer()]);
    const togetherMs = performance.now() - together;
    const twice = [...seen.values()].filter((count) => count > 1).length;

    const idleSummary = summarize(idle);
    const fullSummary = summarize(full);
    printFigures(`Claims on ${channelCount.toLocaleString("en")} channels (window ${AHEAD_MS / 1000} s, batch ${batch})`, [
      ["1. idle tick: p50 / p95 / max", `${ms(idleSummary.p50)} / ${ms(idleSummary.p95)} / ${ms(idleSummary.max)}`],
      ["   channels claimed over the idle ticks", String(idleClaimed)],
      [`2. claim of a full batch (${batch}): p50 / p95 / max`, `${ms(fullSummary.p50)} / ${ms(fullSummary.p95)} / ${ms(fullSummary.max)}`],
      ["   per channel claimed (p50 ÷ batch)", ms(fullSummary.p50 / batch, 3)],
      ["   backlog claimed", `${claimed.toLocaleString("en")} of ${dueCount.toLocaleString("en")} in ${full.length} full claims`],
      ["3. two schedulers on the same backlog", `${seen.size.toLocaleString("en")} claimed in ${ms(togetherMs, 0)}, ${twice} twice`],
    ]);
    console.log(describeLoad());
  } finally {
    await deleteKeys(redis, keyPrefix);
    if (options.drop) await pool.query(`drop schema "${schema}" cascade`);
    await refresca.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
