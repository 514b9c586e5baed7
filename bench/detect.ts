// Benchmark: getChannelsNeedingTokenRefresh for one tenant among 1,000,000 channels in 1,000 tenants (PostgreSQL).
// Run: npx tsx bench/detect.ts [--iterations N] [--schema NAME] [--reseed] [--drop]   (npm run bench:detect)
// Prints figures; it is not a test. See docs/BENCHMARKS.md.
import os from "node:os";
import type pg from "pg";
import { createLogger } from "../src/core/logger";
import { MAX_LISTED_CHANNELS } from "../src/core/operations";
import { openStore, type Store } from "../src/core/store";
import { ExpiryQueries } from "../src/core/store/channels";
import { createRefresca } from "../src/refresca";
import {
  BENCH_ENCRYPTION_KEYS,
  busyWarning,
  describeLoad,
  describeMachine,
  duration,
  ms,
  parseOptions,
  positiveInteger,
  printFigures,
  serverUrls,
  summarize,
  timed,
  today,
} from "./support";

const TENANTS = 1_000;
const CHANNELS_PER_TENANT = 1_000;
const TOTAL_CHANNELS = TENANTS * CHANNELS_PER_TENANT;
const SEED_BATCHES = 10;
const WARMUP_CALLS = 200;
const REFRESH_BEFORE_MINUTES = 60;
const NEEDS_REAUTH_SHARE = 0.05;
const TARGET_P50_MS = 5;
const INDEX_NAME = "channels_tenant_expires_idx";

const USAGE = `Usage: npx tsx bench/detect.ts [options]

Measures refresca.getChannelsNeedingTokenRefresh({ tenantId, refreshBeforeMinutes: 60 }) for random tenants
among ${TOTAL_CHANNELS.toLocaleString("en")} channels in ${TENANTS.toLocaleString("en")} tenants.

Options:
  --iterations N   measured calls (default 2000), after ${WARMUP_CALLS} warm-up calls
  --schema NAME    PostgreSQL schema holding the benchmark's data (default bench_detect)
  --reseed         seed again even if the schema already holds the data
  --drop           drop the schema at the end (default: keep it for the next run)
  -h, --help       this text

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), REDIS_URL (default redis://127.0.0.1:6379).`;

const options = parseOptions(
  {
    iterations: { type: "string" },
    schema: { type: "string" },
    reseed: { type: "boolean" },
    drop: { type: "boolean" },
  },
  USAGE,
);
const iterations = positiveInteger("iterations", options.iterations, 2_000);
const schema = options.schema ?? "bench_detect";
const { databaseUrl, redisUrl } = serverUrls();

const tenantId = (index: number) => `bench-t${String(index).padStart(4, "0")}`;
const randomTenant = () => tenantId(Math.floor(Math.random() * TENANTS));
const log = (message: string) => console.log(message);

/** Fills the schema with bulk SQL, on one connection so that setseed makes the data the same on every seed. */
async function seed(store: Store): Promise<void> {
  const client = await store.connection.pool.connect();
  try {
    const started = performance.now();
    await client.query("truncate channels, tenants, refresh_events, refresh_schedules");
    await client.query("select setseed(0.42)");
    const { rows } = await client.query<{ now: Date }>("select now() as now");
    const seededAt = rows[0]!.now;
    await client.query(
      `insert into tenants (id, name, created_at)
       select 'bench-t' || lpad(t::text, 4, '0'), 'Bench tenant ' || t, $1
         from generate_series(0, $2::int - 1) t`,
      [seededAt, TENANTS],
    );
    log(`  ${TENANTS} tenants inserted`);
    // Channel g belongs to tenant g % 1000, so each tenant's rows are spread over the whole table, as they are
    // when tenants add channels over time (rather than each tenant's rows packed in a few pages).
    const perBatch = TOTAL_CHANNELS / SEED_BATCHES;
    for (let batch = 0; batch < SEED_BATCHES; batch++) {
      const batchStarted = performance.now();
      await client.query(
        `insert into channels (tenant_id, id, type, display_name, local_name, status, credentials, key_id,
                               expires_at, has_refresh_token, created_at, updated_at)
         select 'bench-t' || lpad((g % $4::int)::text, 4, '0'),
                'ch-' || lpad((g / $4::int)::text, 4, '0'),
                (array['instagram', 'facebook', 'whatsapp', 'tiktok'])[1 + (g / $4::int) % 4],
                'Bench channel ' || g,
                '',
                case when random() < $5::float8 then 'needs_reauth' else 'active' end,
                'v1.bench.x.y.z',
                'bench',
                $1::timestamptz - interval '1 day' + random() * interval '61 days',
                true,
                $1, $1
           from generate_series($2::int, $3::int) g`,
        [seededAt, batch * perBatch, (batch + 1) * perBatch - 1, TENANTS, NEEDS_REAUTH_SHARE],
      );
      const done = (batch + 1) * perBatch;
      const elapsed = performance.now() - started;
      log(
        `  channels ${done.toLocaleString("en").padStart(9)} / ${TOTAL_CHANNELS.toLocaleString("en")}` +
          `  (batch ${duration(performance.now() - batchStarted)}, total ${duration(elapsed)})`,
      );
    }
    const analyzeStarted = performance.now();
    // VACUUM as autovacuum would soon do (visibility map, hint bits), and ANALYZE for the planner's statistics.
    await client.query("vacuum (analyze) tenants");
    await client.query("vacuum (analyze) channels");
    log(`  vacuum + analyze ${duration(performance.now() - analyzeStarted)}`);
    log(`Seeded in ${duration(performance.now() - started)}.`);
  } finally {
    client.release();
  }
}

/** The SQL text and parameters that ExpiryQueries.needingRefresh sends, captured rather than copied. */
async function needingRefreshQuery(tenant: string, until: Date): Promise<{ text: string; values: unknown[] }> {
  let captured: { text: string; values: unknown[] } | undefined;
  const recorder = {
    query: async (text: string, values: unknown[]) => {
      captured = { text, values };
      return { rows: [] };
    },
  } as unknown as pg.Pool;
  await new ExpiryQueries(recorder).needingRefresh(tenant, until, MAX_LISTED_CHANNELS);
  if (!captured) throw new Error("ExpiryQueries.needingRefresh sent no query");
  return captured;
}

async function main(): Promise<void> {
  log(`Detection benchmark — schema "${schema}", ${new URL(databaseUrl).host}, ${today()}`);
  log(`Machine: ${describeMachine()}`);
  // Before this process does anything, half the cores busy already means another workload is running.
  const busyBefore = busyWarning(os.cpus().length / 2);

  // 1. Schema (through the migrations) and data.
  const store = await openStore({ url: databaseUrl, schema });
  try {
    const { rows } = await store.connection.pool.query<{ channels: number; tenants: number; seeded_at: Date | null }>(
      `select (select count(*) from channels)::int as channels,
              (select count(*) from tenants)::int as tenants,
              (select max(created_at) from tenants) as seeded_at`,
    );
    const current = rows[0]!;
    if (!options.reseed && current.channels === TOTAL_CHANNELS && current.tenants === TENANTS) {
      const age = Date.now() - (current.seeded_at?.getTime() ?? Date.now());
      log(`Schema already holds ${TOTAL_CHANNELS.toLocaleString("en")} channels (seeded ${duration(age)} ago): not seeding (--reseed to redo).`);
      if (age > 24 * 3_600_000) {
        log("  note: expires_at is relative to the seed time, so more channels have expired since: --reseed for fresh figures.");
      }
    } else {
      log(`Seeding ${TOTAL_CHANNELS.toLocaleString("en")} channels in ${TENANTS} tenants (found ${current.channels.toLocaleString("en")})…`);
      await seed(store);
    }
  } finally {
    await store.close();
  }

  // 2. The real operation, through createRefresca.
  const refresca = await createRefresca({
    databaseUrl,
    schema,
    encryptionKeys: BENCH_ENCRYPTION_KEYS,
    redisUrl,
    keyPrefix: "bench:",
    logger: createLogger({ level: "silent" }),
  });
  try {
    const detect = async (tenant: string) => {
      const answer = await refresca.getChannelsNeedingTokenRefresh({ tenantId: tenant, refreshBeforeMinutes: REFRESH_BEFORE_MINUTES });
      if (!answer.success) throw new Error(`getChannelsNeedingTokenRefresh failed for ${tenant}: ${answer.code} ${answer.error}`);
      return answer.channels.length;
    };

    for (let i = 0; i < WARMUP_CALLS; i++) await detect(randomTenant());

    const samples: number[] = [];
    let returned = 0;
    for (let i = 0; i < iterations; i++) {
      const { result, ms: elapsed } = await timed(() => detect(randomTenant()));
      samples.push(elapsed);
      returned += result;
    }
    const figures = summarize(samples);
    const loadAfter = describeLoad();
    const warning = busyBefore ?? busyWarning();
    const met = figures.p50 <= TARGET_P50_MS;

    // Where the time goes: the operation's two queries, called directly on the same store.
    const { store: opened } = refresca.internals;
    const existsSamples: number[] = [];
    const querySamples: number[] = [];
    for (let i = 0; i < Math.min(iterations, 1_000); i++) {
      const tenant = randomTenant();
      existsSamples.push((await timed(() => opened.tenants.exists(tenant))).ms);
      const until = new Date(Date.now() + REFRESH_BEFORE_MINUTES * 60_000);
      querySamples.push((await timed(() => opened.expiry.needingRefresh(tenant, until, MAX_LISTED_CHANNELS))).ms);
    }
    const exists = summarize(existsSamples);
    const query = summarize(querySamples);

    printFigures(`getChannelsNeedingTokenRefresh — ${iterations} calls after ${WARMUP_CALLS} warm-up, random tenants`, [
      ["p50", ms(figures.p50)],
      ["p95", ms(figures.p95)],
      ["p99", ms(figures.p99)],
      ["max", ms(figures.max)],
      ["mean", ms(figures.mean)],
      ["channels returned (avg)", (returned / iterations).toFixed(1)],
      ["breakdown p50: tenants.exists", ms(exists.p50)],
      ["breakdown p50: expiry.needingRefresh", ms(query.p50)],
    ]);
    log(`\ntarget p50 ≤ ${TARGET_P50_MS} ms: ${met ? "met" : "not met"}`);
    log(`(after the measured calls: ${loadAfter})`);
    if (warning) log(warning);

    // 3. The plan of the underlying query, for one tenant.
    const tenant = randomTenant();
    const { text, values } = await needingRefreshQuery(tenant, new Date(Date.now() + REFRESH_BEFORE_MINUTES * 60_000));
    const plan = await opened.connection.pool.query<{ "QUERY PLAN": string }>(`explain (analyze, buffers) ${text}`, values);
    const lines = plan.rows.map((row) => row["QUERY PLAN"]);
    log(`\nEXPLAIN (ANALYZE, BUFFERS) of expiry.needingRefresh for ${tenant}:`);
    for (const line of lines) log(`  ${line}`);
    const usesIndex = lines.some((line) => line.includes(INDEX_NAME));
    log(`\nindex ${INDEX_NAME} used: ${usesIndex ? "yes" : "NO"}`);

    // 4. Keep or drop the data.
    if (options.drop) {
      await opened.connection.pool.query(`drop schema "${schema}" cascade`);
      log(`Schema "${schema}" dropped.`);
    } else {
      log(`Schema "${schema}" kept for the next run (--drop, or: psql "$DATABASE_URL" -c 'drop schema ${schema} cascade').`);
    }
  } finally {
    await refresca.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
