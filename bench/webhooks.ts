// Benchmark: an outage flags 10,000 channels of one tenant at once; how long until the tenant's receiver has verified
// every channel.needs_reauth, and the most requests (and connections) the endpoint saw at once.
// Run: npx tsx bench/webhooks.ts [--channels 10000] [--workers 2] [--per-endpoint 4]   Prints figures; not a test.
// See docs/BENCHMARKS.md.
import http from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { Webhook } from "standardwebhooks";
import { createLogger } from "../src/core/logger";
import { createRefresca, type Refresca } from "../src/refresca";
import { BENCH_ENCRYPTION_KEYS, describeLoad, describeMachine, duration, parseOptions, positiveInteger, printFigures, serverUrls, today } from "./support";

const USAGE = `Usage: npx tsx bench/webhooks.ts [options]

Seeds N active channels of one tenant in PostgreSQL, registers a local receiver as the tenant's webhook endpoint, starts
W workers' webhook loops (episode scanner every 5 s, dispatcher), then flags every channel needs_reauth in one UPDATE
(an outage). Measures the time until the receiver has verified (standardwebhooks) one channel.needs_reauth per channel,
and the most requests and connections the endpoint had open at once (the bound is --per-endpoint across all workers).

Options:
  --channels N       channels flagged at once (default 10000)
  --workers N        Refresca instances running the webhook loops (default 2)
  --per-endpoint N   deliveries in flight per endpoint (default 4)
  --latency MS       the receiver's answer time (default 0)
  -h, --help         this text

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), REDIS_URL (default redis://127.0.0.1:6379).`;

const options = parseOptions(
  { channels: { type: "string" }, workers: { type: "string" }, "per-endpoint": { type: "string" }, latency: { type: "string" } },
  USAGE,
);
const channels = positiveInteger("--channels", options.channels, 10_000);
const workers = positiveInteger("--workers", options.workers, 2);
const perEndpoint = positiveInteger("--per-endpoint", options["per-endpoint"], 4);
const latencyMs = positiveInteger("--latency", options.latency, 0, 0);
const { databaseUrl, redisUrl } = serverUrls();
const schema = `bench_webhooks_${process.pid}`;
const tenantId = "bench";

// The receiver: verifies every request, counts the distinct channels it heard about, and what it had open at once.
let verifier: Webhook | undefined;
const seen = new Set<string>();
let refused = 0;
let duplicates = 0;
let open = 0;
let maxOpen = 0;
let sockets = 0;
let maxSockets = 0;
let done: () => void = () => {};
const allSeen = new Promise<void>((resolve) => (done = resolve));
const server = http.createServer((req, res) => {
  open += 1;
  maxOpen = Math.max(maxOpen, open);
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const answer = () => {
      try {
        const event = verifier!.verify(Buffer.concat(chunks).toString("utf8"), req.headers as Record<string, string>) as { data: { channelId: string } };
        if (seen.has(event.data.channelId)) duplicates += 1;
        seen.add(event.data.channelId);
        res.end("ok");
      } catch {
        refused += 1;
        res.statusCode = 400;
        res.end("bad signature");
      }
      open -= 1;
      if (seen.size >= channels) done();
    };
    if (latencyMs > 0) setTimeout(answer, latencyMs);
    else answer();
  });
});
server.on("connection", (socket) => {
  sockets += 1;
  maxSockets = Math.max(maxSockets, sockets);
  socket.on("close", () => (sockets -= 1));
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

const make = () =>
  createRefresca({
    databaseUrl,
    redisUrl,
    schema,
    keyPrefix: `${schema}:`,
    encryptionKeys: BENCH_ENCRYPTION_KEYS,
    logger: createLogger({ level: "error" }),
    webhooks: { allowPrivate: true, maxInFlightPerEndpoint: perEndpoint },
  });
const instances: Refresca[] = [];
const pool = new pg.Pool({ connectionString: databaseUrl, options: `-c search_path=${schema}` });
try {
  for (let i = 0; i < workers; i += 1) instances.push(await make());
  const [first] = instances;
  await first!.internals.store.tenants.ensure(tenantId);
  const added = await first!.webhooks.add({ tenantId, url, events: ["channel.needs_reauth"] });
  if (!added.success) throw new Error(added.error);
  verifier = new Webhook(added.secret);
  await pool.query(
    `insert into channels (tenant_id, id, type, display_name, local_name, credentials, key_id, expires_at, has_refresh_token)
     select $1, 'ch_' || n, 'tiktok', 'TikTok ' || n, '@c' || n, 'not-a-real-envelope', 'bench', now() + interval '1 day', true
       from generate_series(1, $2) as n`,
    [tenantId, channels],
  );
  for (const instance of instances) instance.internals.webhookRunner.start();
  // Let the loops settle (their first scan finds nothing), then the outage.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const started = performance.now();
  await pool.query(
    `update channels set status = 'needs_reauth', last_error_code = 'INVALID_CREDENTIALS',
            last_error = 'The platform rejected the channel''s token (expired or revoked): the channel must be reconnected.',
            last_attempt_at = now(), updated_at = now()
      where tenant_id = $1`,
    [tenantId],
  );
  const timeout = setTimeout(() => done(), 300_000);
  await allSeen;
  clearTimeout(timeout);
  const elapsed = performance.now() - started;
  const events = (await pool.query(`select count(*)::int as n from webhook_events where type = 'channel.needs_reauth'`)).rows[0].n;
  printFigures(`Webhooks: ${channels.toLocaleString("en")} channels flagged at once (${today()})`, [
    ["machine", describeMachine()],
    ["load", describeLoad()],
    ["workers running the webhook loops", String(workers)],
    ["bound per endpoint", String(perEndpoint)],
    ["receiver latency", `${latencyMs} ms`],
    ["events recorded", events.toLocaleString("en")],
    ["verified by the receiver", `${seen.size.toLocaleString("en")} (${refused} refused, ${duplicates} duplicates)`],
    ["flag → all verified", duration(elapsed)],
    ["deliveries per second", (seen.size / (elapsed / 1000)).toFixed(0)],
    ["most requests open at once", String(maxOpen)],
    ["most connections open at once", String(maxSockets)],
  ]);
  if (seen.size < channels) process.exitCode = 1;
} finally {
  await Promise.all(instances.map((instance) => instance.close()));
  await pool.query(`drop schema if exists "${schema}" cascade`).catch(() => {});
  await pool.end();
  server.closeAllConnections();
  server.close();
}
