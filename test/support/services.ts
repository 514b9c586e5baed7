/**
 * The test run's own PostgreSQL and/or Redis, for a machine that has neither answering at TEST_DATABASE_URL /
 * TEST_REDIS_URL. test/global-setup.ts runs this file as a child process (`node --import tsx`), once per `vitest`
 * run: `services.ts <dataDir> [--postgres] [--redis <url>]`.
 *
 * - `--postgres`: the embedded PostgreSQL (src/core/store/embedded.ts, the demo's), kept in `<dataDir>`.
 * - `--redis <url>`: a private `redis-server` on a free port (src/launcher/local-redis.ts, the demo's), files in
 *   `<dataDir>/redis`.
 * It prints one JSON line on stdout, `{ databaseUrl?, redisUrl? }`, once both answer. When its stdin closes (the test
 * run ended, or vitest died: the pipe closes either way) it stops them and removes `<dataDir>`; on SIGINT/SIGTERM
 * (a Ctrl-C reaches the whole process group) it stops them.
 *
 * Why a child process: starting the embedded server installs async-exit-hook, whose `beforeExit` handler calls
 * process.exit(0). In vitest's own process that would turn a failed run's exit code 1 into 0.
 */
import { rm } from "node:fs/promises";
import exitHook from "async-exit-hook";
import { ensureEmbeddedPostgres } from "../../src/core/store/embedded";
import { ensureRedisForDemo } from "../../src/launcher/local-redis";

const [dataDir, ...flags] = process.argv.slice(2);
if (!dataDir) throw new Error("usage: services.ts <dataDir> [--postgres] [--redis <url>]");
const redisIndex = flags.indexOf("--redis");
const redisUrl = redisIndex >= 0 ? flags[redisIndex + 1] : undefined;
const log = (line: string) => process.stderr.write(`${line}\n`);

const stops: Array<() => Promise<void>> = [];
// Every async-exit-hook handler runs on a signal, and the process exits once all of them are done: Redis here, the
// embedded PostgreSQL in postgres-process.ts.
exitHook((done) => void Promise.allSettled(stops.map((stop) => stop())).then(() => done?.()));
// The parent closes our stdin to stop us; it also closes when the parent dies, which leaves the folder to us.
process.stdin
  .on("end", async () => {
    await Promise.allSettled(stops.map((stop) => stop()));
    await rm(dataDir, { recursive: true, force: true });
    process.exit(0);
  })
  .resume();

try {
  const answer: { databaseUrl?: string; redisUrl?: string } = {};
  if (flags.includes("--postgres")) {
    const postgres = await ensureEmbeddedPostgres({ dataDir, log });
    stops.push(postgres.stop);
    answer.databaseUrl = postgres.url;
  }
  if (redisUrl) {
    const redis = await ensureRedisForDemo(redisUrl, dataDir, log);
    stops.push(redis.stop);
    answer.redisUrl = redis.url;
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
} catch (error) {
  log(error instanceof Error ? error.message : String(error));
  await Promise.allSettled(stops.map((stop) => stop()));
  process.exit(1);
}
