// Benchmark: Redis memory per idle channel, now that each channel's plan lives in PostgreSQL and Redis holds only the
// refreshes due within the scheduler's window.
// Run: npx tsx bench/redis-memory.ts [--channels 100000]   Prints figures; it is not a test. See docs/BENCHMARKS.md.
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { expiryRefreshAt } from "../src/core/queue/settings";
import type { Platform } from "../src/core/types";
import { deleteKeys, openBenchRefresca } from "./processes";
import { describeMachine, parseOptions, positiveInteger, printFigures, printTable, serverUrls, today } from "./support";

const BATCH = 5_000;
const PLATFORMS: Platform[] = ["tiktok", "instagram", "facebook", "whatsapp"];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const USAGE = `Usage: npx tsx bench/redis-memory.ts [options]

Seeds N channels in PostgreSQL as steady state leaves them — each with its plan, the next refresh due shortly before
its token expires (TikTok tokens expiring within a day, Meta's within 60 days) — and runs the scheduler's claim as
every worker does (refresca.internals.scheduler.tick()). Measures the Redis memory this takes: the sum of MEMORY
USAGE over the benchmark's keys (exact, and blind to other clients of the server), and the change of INFO memory
used_memory (the whole server), per channel.

Options:
  --channels N    channels (default 100000)
  --tenants N     tenants they belong to (default 10)
  --schema NAME   PostgreSQL schema (default bench_redis_memory; dropped at the end unless --keep)
  --prefix P      Redis key prefix (default bench-redis-memory:)
  --keep          keep the keys and the schema
  -h, --help      this text

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), REDIS_URL (default redis://127.0.0.1:6379).`;

const options = parseOptions(
  { channels: { type: "string" }, tenants: { type: "string" }, schema: { type: "string" }, prefix: { type: "string" }, keep: { type: "boolean" } },
  USAGE,
);
const channelCount = positiveInteger("channels", options.channels, 100_000);
const tenantCount = positiveInteger("tenants", options.tenants, 10);
const schema = options.schema ?? "bench_redis_memory";
const keyPrefix = options.prefix ?? "bench-redis-memory:";
const { databaseUrl, redisUrl } = serverUrls();

/** MEMORY USAGE (exact: SAMPLES 0) of every key under the prefix, grouped by what the key is. */
async function keyMemory(redis: Redis): Promise<Map<string, { keys: number; bytes: number }>> {
  const groups = new Map<string, { keys: number; bytes: number }>();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 1000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory("USAGE", key, "SAMPLES", 0);
    const sizes = (await pipeline.exec()) ?? [];
    keys.forEach((key, index) => {
      const group = describeKey(key.slice(keyPrefix.length));
      const entry = groups.get(group) ?? { keys: 0, bytes: 0 };
      entry.keys += 1;
      entry.bytes += Number(sizes[index]?.[1] ?? 0);
      groups.set(group, entry);
    });
  } while (cursor !== "0");
  return groups;
}

function describeKey(key: string): string {
  if (/^refresh:\d+$/.test(key)) return "job hashes (refresh:<job id>)";
  if (key.startsWith("tenant-pending:")) return "tenant job sets (tenant-pending:<tenant>)";
  if (key.startsWith("refresh:")) return `queue structure refresh:${key.slice("refresh:".length)}`;
  return key;
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}

const total = (groups: Map<string, { bytes: number }>) => [...groups.values()].reduce((sum, group) => sum + group.bytes, 0);

async function main(): Promise<void> {
  console.log(`Redis memory benchmark — ${channelCount.toLocaleString("en")} channels, prefix "${keyPrefix}", ${today()}`);
  console.log(`Machine: ${describeMachine()}`);
  const refresca = await openBenchRefresca({ databaseUrl, redisUrl, schema, keyPrefix });
  const { queue, redis, scheduler, store } = refresca.internals;
  const pool = store.connection.pool;
  try {
    await deleteKeys(redis, keyPrefix);
    await pool.query("truncate channels, tenants cascade");
    const version = /^redis_version:(\S+)/m.exec(await redis.info("server"))?.[1];
    const now = Date.now();
    // Steady state: each token was refreshed at some point of its life, so expiries (and the plans before them) are
    // spread evenly over a TikTok token's day and a Meta token's 60 days.
    const channels = Array.from({ length: channelCount }, (_, index) => {
      const type = PLATFORMS[index % PLATFORMS.length]!;
      const expiresAt = new Date(now + Math.random() * (type === "tiktok" ? DAY : 60 * DAY));
      return {
        tenantId: `bench-tenant-${String(index % tenantCount).padStart(3, "0")}`,
        id: randomUUID(),
        type,
        expiresAt,
        nextRefreshAt: expiryRefreshAt(type, expiresAt, new Date(now), queue.settings),
      };
    });
    const seeding = performance.now();
    await pool.query("insert into tenants (id, name) select id, id from unnest($1::text[]) id on conflict do nothing", [
      [...new Set(channels.map((c) => c.tenantId))],
    ]);
    for (let start = 0; start < channelCount; start += BATCH) {
      const part = channels.slice(start, start + BATCH);
      await pool.query(
        `insert into channels (tenant_id, id, type, display_name, local_name, credentials, key_id, expires_at, has_refresh_token, next_refresh_at)
         select t, c, p, 'Bench', '@bench', 'v1.bench', 'bench', e, true, n
           from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) as s(t, c, p, e, n)`,
        [part.map((c) => c.tenantId), part.map((c) => c.id), part.map((c) => c.type), part.map((c) => c.expiresAt), part.map((c) => c.nextRefreshAt)],
      );
    }
    const seedMs = performance.now() - seeding;
    const window = queue.settings.claimAheadMs;
    const dueSoon = channels.filter((c) => c.nextRefreshAt.getTime() <= now + window).length;
    const dueWithinHour = channels.filter((c) => c.nextRefreshAt.getTime() <= now + HOUR).length;

    // The queue's own keys (meta, id counter, events stream) exist once, whatever the number of channels.
    await queue.refresh.add("refresh", { tenantId: "bench-tenant-000", channelId: "warm-up", trigger: "manual" }, { delay: DAY });
    const before = await keyMemory(redis);
    const usedBefore = await usedMemory(redis);
    const claiming = performance.now();
    // What each worker does every schedulerIntervalMs: claim the channels due within the window and queue them.
    const queued = await scheduler.tick();
    const claimMs = performance.now() - claiming;
    const again = await scheduler.tick();
    const after = await keyMemory(redis);
    const usedAfter = await usedMemory(redis);
    const { delayed, waiting } = await queue.refresh.getJobCounts("delayed", "waiting");

    const perKeyDelta = total(after) - total(before);
    printTable(
      `Keys under "${keyPrefix}" with ${channelCount.toLocaleString("en")} channels planned (MEMORY USAGE … SAMPLES 0)`,
      ["key", "keys", "bytes", "bytes per channel"],
      [...after].sort((a, b) => b[1].bytes - a[1].bytes).map(([group, { keys, bytes }]) => [
        group,
        String(keys),
        bytes.toLocaleString("en"),
        (bytes / channelCount).toFixed(2),
      ]),
    );
    printFigures(`Memory per channel (Redis ${version})`, [
      ["channels seeded (plans in PostgreSQL)", `${channelCount.toLocaleString("en")} in ${(seedMs / 1000).toFixed(1)} s`],
      [`due within the claim window (${window / 1000} s) / within the hour`, `${dueSoon} / ${dueWithinHour.toLocaleString("en")}`],
      ["refreshes the scheduler queued (first tick, second tick)", `${queued} (${claimMs.toFixed(0)} ms), ${again}`],
      ["jobs in Redis (delayed + waiting, the warm-up job included)", String(delayed! + waiting!)],
      ["sum of MEMORY USAGE: before → after", `${total(before).toLocaleString("en")} → ${total(after).toLocaleString("en")} B`],
      ["bytes per channel (MEMORY USAGE)", (perKeyDelta / channelCount).toFixed(2)],
      ["INFO used_memory: before → after", `${usedBefore.toLocaleString("en")} → ${usedAfter.toLocaleString("en")} B`],
      ["bytes per channel (used_memory; other clients count too)", ((usedAfter - usedBefore) / channelCount).toFixed(2)],
      ["bytes per channel due within the window", dueSoon > 0 ? (perKeyDelta / dueSoon).toFixed(0) : "—"],
    ]);
  } finally {
    if (options.keep) {
      console.log(`Keys "${keyPrefix}*" and schema "${schema}" kept (--keep).`);
    } else {
      await deleteKeys(redis, keyPrefix);
      await pool.query(`drop schema "${schema}" cascade`);
    }
    await refresca.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
