// Token reads: how fast a product gets a live token out of Refresca.
//
//   npx tsx bench/token-read.ts [--channels 1000] [--reads 20000] [--seconds 10] [--connections 50] [--rounds 2]
//
// 1. In process: `getAccessToken` of a fresh token (one SELECT, one AES-GCM decrypt, the audit counted in memory),
//    sequentially: p50 and p99 (target p50 ≤ 1 ms).
// 2. Over HTTP, with autocannon at 50 connections on the token route, in the same run and on the same data:
//    - refresca: the REST API as `refresca web` serves it (Hono behind node:http: key check, rate limit in Redis,
//      scope and tenant checks, zod validation, the library's getAccessToken, the audit);
//    - baseline: a bare node:http server written here doing only the same key-hash lookup, the same SELECT and the
//      same AES-GCM decrypt, and a JSON answer.
//    Each server runs in a child process of its own (the load generator stays in this one), the two alternate for
//    --rounds rounds, and the ratio of their requests/s is the figure (target ≥ 0.7). --profile-dir DIR writes a CPU
//    profile of each server process, to see where the difference goes.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import autocannon from "autocannon";
import pg from "pg";
import { createRefrescaApi } from "../src/api";
import { parseKeyRing } from "../src/core/crypto";
import { createLogger } from "../src/core/logger";
import { createRefresca } from "../src/refresca";
import {
  BENCH_ENCRYPTION_KEYS,
  busyWarning,
  describeMachine,
  parseOptions,
  positiveInteger,
  printFigures,
  printTable,
  serverUrls,
  summarize,
  today,
} from "./support";

const USAGE =
  "npx tsx bench/token-read.ts [--channels 1000] [--reads 20000] [--seconds 10] [--connections 50] [--rounds 2] [--profile-dir DIR]\n" +
  "  --profile-dir: write a V8 CPU profile of each server process under DIR/baseline and DIR/refresca";
const TENANT = "bench-tenant";
const { databaseUrl, redisUrl } = serverUrls();

/** The options every Refresca of this run shares: one schema and key prefix, made for this run. */
function refrescaOptions(schema: string) {
  return {
    databaseUrl,
    redisUrl,
    schema,
    keyPrefix: `${schema}:`,
    encryptionKeys: BENCH_ENCRYPTION_KEYS,
    logger: createLogger({ level: "error" }),
    // The load would otherwise spend the default budget (100/s) in the first second.
    apiRateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
  };
}

// ---- child: one server under test -------------------------------------------------------------------------------

async function serveRefresca(schema: string) {
  const refresca = await createRefresca({ ...refrescaOptions(schema), migrate: false });
  const { getRequestListener } = await import("@hono/node-server");
  return { listener: getRequestListener(createRefrescaApi(refresca).fetch), close: () => refresca.close() };
}

/** The least a token route can do: the key's hash looked up, the channel read, its envelope decrypted, JSON out. */
async function serveBaseline(schema: string) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, options: `-c search_path=${schema}` });
  const keyRing = parseKeyRing(BENCH_ENCRYPTION_KEYS);
  const route = /^\/api\/v1\/tenants\/([^/]+)\/channels\/([^/?]+)\/token/;
  const listener = async (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
    const match = route.exec(req.url ?? "");
    const key = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (!match || !key) return void res.writeHead(404).end();
    const hash = createHash("sha256").update(key).digest("hex");
    const keys = await pool.query({ name: "key", text: "select id, tenant_id from api_keys where key_hash = $1 and revoked_at is null", values: [hash] });
    if (keys.rowCount === 0) return void res.writeHead(401).end();
    const [tenantId, channelId] = [decodeURIComponent(match[1]!), decodeURIComponent(match[2]!)];
    const rows = await pool.query({
      name: "channel",
      text: "select type, credentials, expires_at, meta from channels where tenant_id = $1 and id = $2",
      values: [tenantId, channelId],
    });
    const row = rows.rows[0];
    if (!row) return void res.writeHead(404).end();
    const { accessToken } = keyRing.decrypt(row.credentials, { tenantId, channelId });
    const body = JSON.stringify({ success: true, channelId, channelType: row.type, accessToken, expiresAt: row.expires_at, meta: row.meta });
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(body);
  };
  return { listener, close: () => pool.end() };
}

async function child(kind: string, schema: string) {
  const { listener, close } = kind === "baseline" ? await serveBaseline(schema) : await serveRefresca(schema);
  // A request still in flight when the run ends meets a closed pool: drop it quietly.
  const server = createServer((req, res) => void Promise.resolve(listener(req, res)).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
  // "mark" and "report" lines from the parent bracket the measured load: the CPU this process spent in between.
  let mark = process.cpuUsage();
  createInterface({ input: process.stdin }).on("line", (line) => {
    if (line === "mark") mark = process.cpuUsage();
    if (line === "report") {
      const used = process.cpuUsage(mark);
      console.log(JSON.stringify({ cpuMicros: used.user + used.system }));
    }
  });
  process.stdin.on("end", async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
    await close();
    process.exit(0);
  });
}

// ---- parent: seed, measure, report ------------------------------------------------------------------------------

interface ServerUnderTest {
  process: ChildProcess;
  port: number;
  /** The CPU the server spent during `work`, in microseconds. */
  cpuDuring<T>(work: () => Promise<T>): Promise<{ result: T; cpuMicros: number }>;
}

function startChild(kind: string, schema: string, profileDir?: string): Promise<ServerUnderTest> {
  const profile = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}/${kind}`] : [];
  const proc = spawn(process.execPath, [...profile, "--import", "tsx", new URL(import.meta.url).pathname, "--serve", kind, "--schema", schema], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value as string);
  const exited = new Promise<never>((_, reject) => proc.once("exit", (code) => reject(new Error(`the ${kind} server exited with ${code}`))));
  exited.catch(() => {});
  return Promise.race([
    next().then(({ port }) => ({
      process: proc,
      port,
      async cpuDuring<T>(work: () => Promise<T>) {
        proc.stdin!.write("mark\n");
        const result = await work();
        proc.stdin!.write("report\n");
        return { result, cpuMicros: (await next()).cpuMicros as number };
      },
    })),
    exited,
  ]);
}

async function load(url: string, apiKey: string, seconds: number, connections: number) {
  const result = await autocannon({ url, connections, duration: seconds, headers: { authorization: `Bearer ${apiKey}` } });
  const wrong = result.non2xx + result.errors + result.timeouts;
  if (wrong > 0) throw new Error(`${url}: ${wrong} requests failed (non-2xx ${result.non2xx}, errors ${result.errors})`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

async function main() {
  const argv = parseOptions(
    {
      channels: { type: "string" },
      reads: { type: "string" },
      seconds: { type: "string" },
      connections: { type: "string" },
      rounds: { type: "string" },
      serve: { type: "string" },
      schema: { type: "string" },
      "profile-dir": { type: "string" },
    },
    USAGE,
  );
  if (argv.serve) return child(argv.serve, argv.schema!);
  const channels = positiveInteger("channels", argv.channels, 1000);
  const reads = positiveInteger("reads", argv.reads, 20_000);
  const seconds = positiveInteger("seconds", argv.seconds, 10);
  const connections = positiveInteger("connections", argv.connections, 50);
  const rounds = positiveInteger("rounds", argv.rounds, 2);
  const schema = `bench_tokens_${process.pid}`;
  const refresca = await createRefresca(refrescaOptions(schema));
  try {
    console.log(`Seeding ${channels} channels with fresh tokens…`);
    const expiresAt = new Date(Date.now() + 50 * 86_400_000).toISOString();
    for (let index = 0; index < channels; index++) {
      const answer = await refresca.channels.upsert({
        tenantId: TENANT,
        id: `ch${index}`,
        type: "facebook",
        displayName: `Page ${index}`,
        accessToken: `EAAB${"x".repeat(180)}${index}`,
        expiresAt,
        meta: { pageId: String(1_000_000 + index) },
      });
      if (!answer.success) throw new Error(answer.error);
    }
    const made = await refresca.apiKeys.create({ name: "bench", scopes: ["tokens:read"] });
    if (!made.success) throw new Error(made.error);

    // 1. In process.
    const ids = Array.from({ length: channels }, (_, index) => `ch${index}`);
    for (let index = 0; index < 1000; index++) await refresca.getAccessToken({ tenantId: TENANT, channelId: ids[index % channels]! });
    const samples: number[] = [];
    for (let index = 0; index < reads; index++) {
      const start = performance.now();
      const answer = await refresca.getAccessToken({ tenantId: TENANT, channelId: ids[index % channels]! });
      samples.push(performance.now() - start);
      if (!answer.success) throw new Error(answer.error);
    }
    const inProcess = summarize(samples);
    printFigures(`getAccessToken in process, fresh token, ${reads} sequential reads over ${channels} channels (${today()}, ${describeMachine()})`, [
      ["p50", `${(inProcess.p50 * 1000).toFixed(0)} µs`],
      ["p99", `${(inProcess.p99 * 1000).toFixed(0)} µs`],
      ["mean", `${(inProcess.mean * 1000).toFixed(0)} µs`],
    ]);

    // 2. Over HTTP, alternating.
    const rows: string[][] = [];
    const totals: Record<string, number[]> = { baseline: [], refresca: [] };
    for (let round = 1; round <= rounds; round++) {
      for (const kind of ["baseline", "refresca"]) {
        const server = await startChild(kind, schema, argv["profile-dir"]);
        try {
          const url = `http://127.0.0.1:${server.port}/api/v1/tenants/${TENANT}/channels/ch7/token`;
          await load(url, made.apiKey, 2, connections); // warm-up: connections, prepared statements, JIT
          const { result: figures, cpuMicros } = await server.cpuDuring(() => load(url, made.apiKey, seconds, connections));
          totals[kind]!.push(figures.rps);
          const perRequest = cpuMicros / (figures.rps * seconds);
          rows.push([`${kind} (round ${round})`, figures.rps.toFixed(0), `${figures.p50} ms`, `${figures.p99} ms`, `${perRequest.toFixed(0)} µs`]);
        } finally {
          server.process.stdin!.end();
          await new Promise((resolve) => server.process.once("exit", resolve));
        }
      }
    }
    printTable(`GET …/token over HTTP, autocannon, ${connections} connections, ${seconds} s per run`, ["server", "requests/s", "p50", "p99", "server CPU/request"], rows);
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const ratio = mean(totals.refresca!) / mean(totals.baseline!);
    printFigures("Ratio", [["refresca / baseline requests/s", `${ratio.toFixed(2)} (target ≥ 0.70)`]]);
    const warning = busyWarning(3);
    if (warning) console.log(warning);
  } finally {
    // The channels' planned refreshes are the only thing this run left in Redis (rate-limit keys expire).
    const { redis, keyPrefix } = refresca.internals;
    for (let cursor = "0", keys: string[] = []; ; ) {
      [cursor, keys] = await redis.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 1000);
      if (keys.length > 0) await redis.del(...keys);
      if (cursor === "0") break;
    }
    await refresca.close();
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    await pool.query(`drop schema if exists "${schema}" cascade`);
    await pool.end();
  }
}

await main();
