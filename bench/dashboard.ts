// Benchmark: the dashboard's channels page, rendered by the production server for a tenant with 10,000 channels.
// Run: npx tsx bench/dashboard.ts [--iterations N] [--keep]   (npm run bench:dashboard)
// Prints figures; it is not a test. See docs/BENCHMARKS.md, section Dashboard.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { createTenantOperations } from "../src/core/access/tenants";
import { createLogger } from "../src/core/logger";
import { openStore } from "../src/core/store";
import { ensureWebBuild } from "../src/launcher/build-web";
import { freePort } from "../src/launcher/local-redis";
import { startWebProcess } from "../src/launcher/web-process";
import { sealSession, sessionKey, SESSION_COOKIE } from "../src/web/session";
import {
  BENCH_ENCRYPTION_KEYS,
  busyWarning,
  describeMachine,
  duration,
  ms,
  parseOptions,
  positiveInteger,
  printTable,
  serverUrls,
  summarize,
  timed,
  today,
} from "./support";

const CHANNELS = 10_000;
const OTHER_TENANTS = 20;
const CHANNELS_PER_OTHER_TENANT = 1_000;
const WARMUP = 20;
const TARGET_P50_MS = 300;
const TENANT = "bench-dashboard";

const USAGE = `Usage: npx tsx bench/dashboard.ts [options]

Starts the production web server (refresca web, built with next build if needed) on a fresh schema holding a tenant
with ${CHANNELS.toLocaleString("en")} channels (and ${OTHER_TENANTS * CHANNELS_PER_OTHER_TENANT} of other tenants), then fetches its channels page over HTTP
with a signed-in session cookie, one request at a time, and prints the latency of each variant.

Options:
  --iterations N   measured requests per variant (default 100), after ${WARMUP} warm-up requests
  --keep           keep the schema at the end (default: drop it)
  -h, --help       this text

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), REDIS_URL (default redis://127.0.0.1:6379).`;

const options = parseOptions({ iterations: { type: "string" }, keep: { type: "boolean" } }, USAGE);
const iterations = positiveInteger("iterations", options.iterations, 100);
const { databaseUrl, redisUrl } = serverUrls();
const schema = `bench_dash_${randomBytes(4).toString("hex")}`;
const keyPrefix = `${schema}:`;
const sessionSecret = randomBytes(32).toString("base64url");

const VARIANTS: Array<[label: string, path: string]> = [
  ["channels, first page (soonest expiry)", "/channels"],
  ["channels, page 100 of 200", "/channels?page=100"],
  ["channels, sorted by name, backwards", "/channels?sort=displayName&dir=desc"],
  ["channels, TikTok only, page 20", "/channels?platform=tiktok&page=20"],
  ["channels, text search", "/channels?q=ch0042"],
  ["overview (statistics, chart, events, jobs)", "/"],
];

console.log(`Dashboard benchmark — ${today()} — ${describeMachine()}`);
const store = await openStore({ url: databaseUrl, schema });
const seeding = await timed(async () => {
  const pool = store.connection.pool;
  await pool.query("insert into tenants (id, name) values ($1, 'Bench Dashboard')", [TENANT]);
  await pool.query(`insert into tenants (id, name) select 'other-' || g, 'Other ' || g from generate_series(1, ${OTHER_TENANTS}) g`);
  // Placeholder credentials: rendering a page never decrypts them.
  await pool.query(
    `insert into channels (tenant_id, id, type, display_name, local_name, credentials, key_id, expires_at,
                           has_refresh_token, status, last_outcome, last_attempt_at)
     select case when g <= $1::int then $2 else 'other-' || (1 + g % $3::int) end,
            'ch' || lpad(g::text, 6, '0'),
            (array['tiktok','facebook','instagram','whatsapp'])[1 + g % 4],
            'Channel ' || substr(md5(g::text), 1, 10), '@handle' || g, 'v1.k.iv.ct.tag', 'k',
            case when g % 97 = 0 then null else now() + ((g * 7919) % 86400 - 1440) * interval '1 minute' end,
            true, case when g % 50 = 0 then 'needs_reauth' else 'active' end,
            case when g % 3 = 0 then 'success' end, case when g % 3 = 0 then now() - interval '1 hour' end
       from generate_series(1, $1::int + $3::int * $4::int) g`,
    [CHANNELS, TENANT, OTHER_TENANTS, CHANNELS_PER_OTHER_TENANT],
  );
  await pool.query("vacuum (analyze) channels");
});
const key = await createTenantOperations({ store, logger: createLogger({ level: "silent" }) }).issueApiKey({ tenantId: TENANT });
if (!key.success) throw new Error(key.error);
console.log(`Seeded ${(CHANNELS + OTHER_TENANTS * CHANNELS_PER_OTHER_TENANT).toLocaleString("en")} channels in ${duration(seeding.ms)}.`);

await ensureWebBuild((line) => console.log(line));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const web = await startWebProcess({
  url,
  stdio: "capture",
  env: {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REFRESCA_DB_SCHEMA: schema,
    REFRESCA_KEY_PREFIX: keyPrefix,
    REFRESCA_ENCRYPTION_KEYS: BENCH_ENCRYPTION_KEYS,
    REFRESCA_SESSION_SECRET: sessionSecret,
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
  },
});

try {
  // A signed-in session, sealed as the sign-in action does.
  const cookie = `${SESSION_COOKIE}=${await sealSession({ role: "tenant", tenantId: TENANT, keyId: key.keyId }, sessionKey(sessionSecret))}`;
  const fetchPage = async (path: string) => {
    const response = await fetch(`${url}${path}`, { headers: { cookie }, redirect: "manual" });
    const html = await response.text();
    if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
    return html;
  };
  const first = await fetchPage("/channels");
  const rows = first.match(/data-channel-id=/g)?.length ?? 0;
  if (rows !== 50) throw new Error(`the channels page shows ${rows} rows, not 50`);
  for (let i = 0; i < WARMUP; i++) await fetchPage(VARIANTS[i % VARIANTS.length]![1]);

  const results: string[][] = [];
  let headline = Number.NaN;
  for (const [label, path] of VARIANTS) {
    const samples: number[] = [];
    let bytes = 0;
    for (let i = 0; i < iterations; i++) {
      const { result, ms: elapsed } = await timed(() => fetchPage(path));
      samples.push(elapsed);
      bytes = result.length;
    }
    const summary = summarize(samples);
    if (path === "/channels") headline = summary.p50;
    results.push([label, ms(summary.p50, 1), ms(summary.p95, 1), ms(summary.max, 1), `${Math.round(bytes / 1024)} kB`]);
  }
  printTable(`GET over HTTP, signed in, ${iterations} requests each, one at a time`, ["page", "p50", "p95", "max", "HTML"], results);
  console.log(
    `\nTarget: channels page p50 ≤ ${TARGET_P50_MS} ms — ${headline <= TARGET_P50_MS ? "met" : "NOT met"} (${ms(headline, 1)}).`,
  );
  const warning = busyWarning();
  if (warning) console.log(warning);
} finally {
  await web.stop();
  if (!options.keep) await store.connection.pool.query(`drop schema if exists "${schema}" cascade`);
  await store.close();
  const redis = new Redis(redisUrl);
  const leftovers = await redis.keys(`${keyPrefix}*`);
  if (leftovers.length > 0) await redis.del(...leftovers);
  redis.disconnect();
}
