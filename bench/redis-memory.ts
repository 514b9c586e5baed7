// Benchmark: Redis memory per channel of the expiry-driven delayed refresh jobs (one per channel).
// Run: npx tsx bench/redis-memory.ts [--channels 10000]   Prints figures; it is not a test. See docs/BENCHMARKS.md.
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Platform } from "../src/core/types";
import { deleteKeys, openBenchRefresca } from "./processes";
import { describeMachine, parseOptions, positiveInteger, printFigures, printTable, serverUrls, today } from "./support";

const BATCH = 1_000;
const PLATFORMS: Platform[] = ["tiktok", "instagram", "facebook", "whatsapp"];

const USAGE = `Usage: npx tsx bench/redis-memory.ts [options]

Queues the expiry-driven refresh job of N channels (refresca.internals.queue.addExpiryJobs, as after each
refresh) and measures the Redis memory they take: the sum of MEMORY USAGE over the benchmark's keys (exact, and
blind to other clients of the server), and the change of INFO memory used_memory (the whole server).

Options:
  --channels N    channels (default 10000)
  --tenants N     tenants they belong to (default 10)
  --schema NAME   PostgreSQL schema Refresca opens (default bench_redis_memory; no rows are written)
  --prefix P      Redis key prefix (default bench-redis-memory:)
  --keep          keep the keys and the schema
  -h, --help      this text

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), REDIS_URL (default redis://127.0.0.1:6379).`;

const options = parseOptions(
  { channels: { type: "string" }, tenants: { type: "string" }, schema: { type: "string" }, prefix: { type: "string" }, keep: { type: "boolean" } },
  USAGE,
);
const channelCount = positiveInteger("channels", options.channels, 10_000);
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
  if (key.startsWith("refresh:expiry~")) return "job hashes (refresh:<job id>)";
  if (key.startsWith("tenant-jobs:")) return "tenant job sets (tenant-jobs:<tenant>)";
  if (key.startsWith("refresh:")) return `queue structure refresh:${key.slice("refresh:".length)}`;
  return key;
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}

const total = (groups: Map<string, { bytes: number }>) => [...groups.values()].reduce((sum, group) => sum + group.bytes, 0);

async function main(): Promise<void> {
  console.log(`Redis memory benchmark — prefix "${keyPrefix}", ${today()}`);
  console.log(`Machine: ${describeMachine()}`);
  const refresca = await openBenchRefresca({ databaseUrl, redisUrl, schema, keyPrefix });
  const { queue, redis } = refresca.internals;
  try {
    await deleteKeys(redis, keyPrefix);
    const version = /^redis_version:(\S+)/m.exec(await redis.info("server"))?.[1];
    const now = Date.now();
    const channels = Array.from({ length: channelCount }, (_, index) => ({
      tenantId: `bench-tenant-${String(index % tenantCount).padStart(3, "0")}`,
      id: randomUUID(),
      type: PLATFORMS[index % PLATFORMS.length]!,
      // Expiries spread over a day (TikTok) to 60 days (Meta): every job is delayed, as in steady state.
      expiresAt: new Date(now + 3_600_000 + Math.random() * (index % 4 === 0 ? 86_400_000 : 60 * 86_400_000)),
    }));

    // The queue's own keys (meta, id counter, events stream) exist once, whatever the number of channels.
    await queue.addExpiryJobs(channels.slice(0, 1));
    const before = await keyMemory(redis);
    const usedBefore = await usedMemory(redis);
    const started = performance.now();
    for (let start = 1; start < channelCount; start += BATCH) await queue.addExpiryJobs(channels.slice(start, start + BATCH));
    const addMs = performance.now() - started;
    const after = await keyMemory(redis);
    const usedAfter = await usedMemory(redis);
    const added = channelCount - 1;
    const { delayed } = await queue.refresh.getJobCounts("delayed");

    const perKeyDelta = total(after) - total(before);
    // BullMQ trims its events stream to about 10,000 entries: beyond that, it no longer grows with channels.
    const events = (groups: typeof after) => groups.get("queue structure refresh:events")?.bytes ?? 0;
    const growing = perKeyDelta - (events(after) - events(before));
    printTable(
      `Keys under "${keyPrefix}" after ${channelCount.toLocaleString("en")} expiry-driven jobs (MEMORY USAGE … SAMPLES 0)`,
      ["key", "keys", "bytes", "bytes per channel"],
      [...after].sort((a, b) => b[1].bytes - a[1].bytes).map(([group, { keys, bytes }]) => [
        group,
        String(keys),
        bytes.toLocaleString("en"),
        (bytes / channelCount).toFixed(0),
      ]),
    );
    printFigures(`Memory per channel (Redis ${version}; ${added.toLocaleString("en")} channels added after the first)`, [
      ["delayed jobs in the queue", delayed!.toLocaleString("en")],
      ["time to add them (addExpiryJobs, batches of 1,000)", `${addMs.toFixed(0)} ms`],
      ["sum of MEMORY USAGE: before → after", `${total(before).toLocaleString("en")} → ${total(after).toLocaleString("en")} B`],
      ["bytes per channel (MEMORY USAGE)", (perKeyDelta / added).toFixed(0)],
      ["INFO used_memory: before → after", `${usedBefore.toLocaleString("en")} → ${usedAfter.toLocaleString("en")} B`],
      ["bytes per channel (used_memory; other clients count too)", ((usedAfter - usedBefore) / added).toFixed(0)],
      ["bytes per channel without the (capped) events stream", (growing / added).toFixed(0)],
      ["projected for 1,000,000 channels", `${(((growing / added) * 1e6) / 2 ** 20).toFixed(0)} MiB`],
    ]);
  } finally {
    if (options.keep) {
      console.log(`Keys "${keyPrefix}*" and schema "${schema}" kept (--keep).`);
    } else {
      await deleteKeys(redis, keyPrefix);
      await refresca.internals.store.connection.pool.query(`drop schema "${schema}" cascade`);
    }
    await refresca.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
