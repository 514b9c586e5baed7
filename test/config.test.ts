import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { ConfigError, loadConfig, resolveEncryptionKeys, resolveSessionSecret } from "../src/config";
import { generateKeySpec, parseKeyRing } from "../src/core/crypto";
import { BUILT_IN_ENDPOINTS, DEFAULT_ENDPOINTS } from "../src/core/providers";

function problemsOf(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("loadConfig accepted an invalid environment");
}

describe("loadConfig", () => {
  test("the plan's settings: backoff, scheduler tick and claim, lead times per channel type (configured ones too)", () => {
    expect(
      loadConfig({
        REFRESCA_RETRY_BASE_MS: "1000",
        REFRESCA_RETRY_CAP_MS: "60000",
        REFRESCA_SCHEDULER_INTERVAL_MS: "2000",
        REFRESCA_CLAIM_BATCH: "250",
        REFRESCA_EXPIRY_LEAD_MINUTES: "tiktok=30, threads=1440",
      }).queue,
    ).toMatchObject({ retryBaseMs: 1000, retryCapMs: 60_000, schedulerIntervalMs: 2000, claimBatch: 250, expiryLeadMs: { tiktok: 1_800_000, threads: 86_400_000 } });
    expect(problemsOf({ REFRESCA_RETRY_BASE_MS: "10000", REFRESCA_RETRY_CAP_MS: "5000" })).toMatch(/REFRESCA_RETRY_CAP_MS \(5000\) must be at least REFRESCA_RETRY_BASE_MS \(10000\)/);
    expect(problemsOf({ REFRESCA_CLAIM_BATCH: "0" })).toMatch(/REFRESCA_CLAIM_BATCH must be at least 1/);
    expect(problemsOf({ REFRESCA_EXPIRY_LEAD_MINUTES: "tiktok=30,instagram" })).toMatch(/REFRESCA_EXPIRY_LEAD_MINUTES: entry 2 is not <channel type>=<minutes/);
    expect(problemsOf({ REFRESCA_EXPIRY_LEAD_MINUTES: "tiktok=0" })).toMatch(/entry 1 is not/);
    // A preset's (or configured provider's) type once it is enabled.
    expect(loadConfig({ YOUTUBE_CLIENT_ID: "id", YOUTUBE_CLIENT_SECRET: "secret", REFRESCA_EXPIRY_LEAD_MINUTES: "youtube=20" }).queue.expiryLeadMs).toEqual({ youtube: 1_200_000 });
    expect(problemsOf({ REFRESCA_EXPIRY_LEAD_MINUTES: "youtube=20" })).toMatch(/names youtube, not a channel type here/);
    // A typo must not silently leave a platform on its default lead.
    expect(problemsOf({ REFRESCA_EXPIRY_LEAD_MINUTES: "tikok=30" })).toMatch(/REFRESCA_EXPIRY_LEAD_MINUTES names tikok, not a channel type here \(instagram, facebook, whatsapp, tiktok, threads\)/);
  });

  test("defaults", () => {
    expect(loadConfig({})).toEqual({
      redisUrl: "redis://localhost:6379",
      dataDir: path.resolve("./data"),
      apps: {},
      providers: [],
      endpoints: {
        metaGraphUrl: "https://graph.facebook.com",
        metaGraphVersion: "v25.0",
        instagramGraphUrl: "https://graph.instagram.com",
        tiktokApiUrl: "https://open.tiktokapis.com",
        threadsGraphUrl: "https://graph.threads.net",
      },
      logLevel: "info",
      platformTimeoutMs: 10_000,
      schema: "refresca",
      keyPrefix: "refresca:",
      queue: { attempts: 3, backoffMs: 2000, keepCompleted: 10, keepFailed: 50, retryBaseMs: 5000, retryCapMs: 300_000, schedulerIntervalMs: 5000, claimBatch: 100 },
      worker: { concurrency: 3, lockDurationMs: 30_000, shutdownTimeoutMs: 25_000, metricsHost: "127.0.0.1" },
      web: { port: 3000, host: "0.0.0.0", trustProxy: false },
      api: { rateLimit: { perSecond: 100, burst: 500 } },
      webhooks: { allowPrivate: false, retryBaseMs: 30_000, failingAfterMs: 30 * 60_000 },
    });
  });

  test("reads the webhook variables and names a bad one", () => {
    expect(
      loadConfig({
        REFRESCA_WEBHOOKS_ALLOW_PRIVATE: "true",
        REFRESCA_WEBHOOKS_RETRY_BASE_MS: "500",
        REFRESCA_WEBHOOKS_FAILING_AFTER_MINUTES: "5",
      }).webhooks,
    ).toEqual({ allowPrivate: true, retryBaseMs: 500, failingAfterMs: 300_000 });
    expect(() => loadConfig({ REFRESCA_WEBHOOKS_ALLOW_PRIVATE: "yes" })).toThrow(/REFRESCA_WEBHOOKS_ALLOW_PRIVATE/);
    expect(() => loadConfig({ REFRESCA_WEBHOOKS_FAILING_AFTER_MINUTES: "0" })).toThrow(/REFRESCA_WEBHOOKS_FAILING_AFTER_MINUTES/);
  });

  test("reads every variable, resolves the data folder and trims trailing slashes of base URLs", () => {
    const keys = generateKeySpec("k1");
    const config = loadConfig({
      DATABASE_URL: "postgresql://u:p@db:5432/refresca",
      REDIS_URL: "rediss://:pw@redis:6380",
      REFRESCA_DATA_DIR: "relative/dir",
      REFRESCA_ENCRYPTION_KEYS: keys,
      META_APP_ID: "123",
      META_APP_SECRET: "meta-secret",
      TIKTOK_CLIENT_KEY: "ck",
      TIKTOK_CLIENT_SECRET: "tiktok-secret",
      META_GRAPH_URL: "http://127.0.0.1:4000/meta/",
      META_GRAPH_VERSION: "v24.0",
      INSTAGRAM_GRAPH_URL: "http://127.0.0.1:4000/ig",
      TIKTOK_API_URL: "http://127.0.0.1:4000/tiktok",
      THREADS_GRAPH_URL: "http://127.0.0.1:4000/threads//",
      LOG_LEVEL: "debug",
      REFRESCA_PLATFORM_TIMEOUT_MS: "2500",
    });
    expect(config).toMatchObject({
      databaseUrl: "postgresql://u:p@db:5432/refresca",
      redisUrl: "rediss://:pw@redis:6380",
      dataDir: path.resolve("relative/dir"),
      encryptionKeys: keys,
      apps: { meta: { appId: "123", appSecret: "meta-secret" }, tiktok: { clientKey: "ck", clientSecret: "tiktok-secret" } },
      endpoints: {
        metaGraphUrl: "http://127.0.0.1:4000/meta",
        metaGraphVersion: "v24.0",
        instagramGraphUrl: "http://127.0.0.1:4000/ig",
        tiktokApiUrl: "http://127.0.0.1:4000/tiktok",
        threadsGraphUrl: "http://127.0.0.1:4000/threads",
      },
      logLevel: "debug",
      platformTimeoutMs: 2500,
    });
  });

  test("reads every endpoint a platform declares from its variable, and defaults to the platform's real API", () => {
    expect(loadConfig({}).endpoints).toEqual(DEFAULT_ENDPOINTS);
    for (const declared of BUILT_IN_ENDPOINTS) {
      const value = declared.format === "url" ? "http://127.0.0.1:4010" : declared.format.example;
      expect(loadConfig({ [declared.env]: value }).endpoints, declared.env).toEqual({ ...DEFAULT_ENDPOINTS, [declared.option]: value });
    }
  });

  test("empty strings count as unset", () => {
    expect(loadConfig({ DATABASE_URL: "", REDIS_URL: "", META_APP_ID: "", LOG_LEVEL: " " })).toMatchObject({
      redisUrl: "redis://localhost:6379",
      apps: {},
      logLevel: "info",
    });
    expect(loadConfig({ DATABASE_URL: "" }).databaseUrl).toBeUndefined();
  });

  test.each([
    ["DATABASE_URL", "mysql://root:hunter2@db/x", /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/],
    ["REDIS_URL", "http://:hunter2@redis", /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    ["META_GRAPH_URL", "ftp://x", /META_GRAPH_URL must be a http:\/\/ or https:\/\/ URL/],
    ["INSTAGRAM_GRAPH_URL", "not a url", /INSTAGRAM_GRAPH_URL must be/],
    ["TIKTOK_API_URL", "localhost:4000", /TIKTOK_API_URL must be/],
    ["THREADS_GRAPH_URL", "graph.threads.net", /THREADS_GRAPH_URL must be a http:\/\/ or https:\/\/ URL/],
    ["META_GRAPH_VERSION", "latest", /META_GRAPH_VERSION must look like v25.0/],
    ["LOG_LEVEL", "verbose", /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/],
    ["REFRESCA_PLATFORM_TIMEOUT_MS", "10s", /REFRESCA_PLATFORM_TIMEOUT_MS must be a whole number/],
    ["REFRESCA_PLATFORM_TIMEOUT_MS", "99", /REFRESCA_PLATFORM_TIMEOUT_MS must be at least 100/],
    ["REFRESCA_PLATFORM_TIMEOUT_MS", "120001", /REFRESCA_PLATFORM_TIMEOUT_MS must be at most 120000/],
    ["REFRESCA_ENCRYPTION_KEYS", "k1:c2hvcnQ=", /REFRESCA_ENCRYPTION_KEYS entry 1: key "k1" is 5 bytes, expected 32/],
    ["REFRESCA_SESSION_SECRET", "too-short-secret", /REFRESCA_SESSION_SECRET must be at least 32 characters/],
    ["REFRESCA_ADMIN_KEY", "admin-hunter2", /REFRESCA_ADMIN_KEY must be at least 32 characters/],
    ["PORT", "http", /PORT must be a whole number/],
    ["PORT", "70000", /PORT must be at most 65535/],
    ["HOST", "a host/with slash", /HOST must be a host name or an IP address/],
    ["METRICS_PORT", "9x", /METRICS_PORT must be a whole number/],
    ["METRICS_PORT", "65536", /METRICS_PORT must be at most 65535/],
    ["METRICS_HOST", "http://0.0.0.0/", /METRICS_HOST must be a host name or an IP address/],
    ["REFRESCA_TRUST_PROXY", "maybe", /REFRESCA_TRUST_PROXY must be true or false/],
    ["REFRESCA_API_RATE_LIMIT", "fast", /REFRESCA_API_RATE_LIMIT must look like 100\/s,500/],
    ["REFRESCA_API_RATE_LIMIT", "250", /REFRESCA_API_RATE_LIMIT must look like 100\/s,500/],
    ["REFRESCA_API_RATE_LIMIT", "7/m,20", /REFRESCA_API_RATE_LIMIT must look like 100\/s,500/],
    ["REFRESCA_API_RATE_LIMIT", "0/s,9", /REFRESCA_API_RATE_LIMIT needs a rate and a burst of at least 1/],
  ])("names %s when it is %j, without echoing the value", (name, value, message) => {
    const text = problemsOf({ [name]: value });
    expect(text).toMatch(message);
    expect(text).not.toContain(value);
  });

  test("reads REFRESCA_API_RATE_LIMIT as requests per second and a burst", () => {
    expect(loadConfig({ REFRESCA_API_RATE_LIMIT: "20/s,50" }).api).toEqual({ rateLimit: { perSecond: 20, burst: 50 } });
    expect(loadConfig({ REFRESCA_API_RATE_LIMIT: "5/s , 5" }).api.rateLimit).toEqual({ perSecond: 5, burst: 5 });
  });

  test("lists every bad variable at once", () => {
    const text = problemsOf({ DATABASE_URL: "mysql://x", LOG_LEVEL: "loud", META_GRAPH_VERSION: "v25", THREADS_GRAPH_URL: "nope" });
    expect(text).toMatch(/DATABASE_URL/);
    expect(text).toMatch(/LOG_LEVEL/);
    expect(text).toMatch(/META_GRAPH_VERSION/);
    expect(text).toMatch(/THREADS_GRAPH_URL/);
  });

  test("Meta app credentials are both or neither, naming the missing one, never the secret", () => {
    expect(problemsOf({ META_APP_ID: "123" })).toMatch(/^META_APP_SECRET is missing: META_APP_ID is set/);
    const text = problemsOf({ META_APP_SECRET: "s3cr3t-meta" });
    expect(text).toMatch(/^META_APP_ID is missing/);
    expect(text).not.toContain("s3cr3t-meta");
  });

  test("TikTok credentials are both or neither, under either pair of names", () => {
    expect(problemsOf({ TIKTOK_CLIENT_KEY: "ck" })).toMatch(/^TIKTOK_CLIENT_SECRET is missing/);
    expect(problemsOf({ TIKTOK_CLIENT_SECRET: "s3cr3t" })).toMatch(/^TIKTOK_CLIENT_KEY is missing/);
    expect(problemsOf({ TIKTOK_APP_ID: "id" })).toMatch(/^TIKTOK_APP_SECRET is missing/);
    expect(problemsOf({ TIKTOK_APP_SECRET: "s3cr3t" })).toMatch(/^TIKTOK_APP_ID is missing/);
    expect(problemsOf({ TIKTOK_CLIENT_KEY: "ck", TIKTOK_APP_SECRET: "s3cr3t" })).toMatch(/set one pair only/);
    expect(loadConfig({ TIKTOK_APP_ID: "id", TIKTOK_APP_SECRET: "s" }).apps).toEqual({
      tiktok: { clientKey: "id", clientSecret: "s" },
    });
  });
});

/** Temporary data folders, removed after each test. */
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir() {
  const dir = await mkdtemp(path.join(tmpdir(), "refresca-config-"));
  dirs.push(dir);
  return dir;
}

describe("resolveEncryptionKeys", () => {

  test("configured keys win", async () => {
    const keys = generateKeySpec("k1");
    const config = loadConfig({ REFRESCA_ENCRYPTION_KEYS: keys, DATABASE_URL: "postgres://db/x" });
    await expect(resolveEncryptionKeys(config, () => {})).resolves.toBe(keys);
  });

  test("embedded default without keys creates a 0600 key file once, says so, and reuses it", async () => {
    const dataDir = path.join(await tempDir(), "nested", "data");
    const messages: string[] = [];
    const config = loadConfig({ REFRESCA_DATA_DIR: dataDir });
    const first = await resolveEncryptionKeys(config, (msg) => messages.push(msg));
    const file = path.join(dataDir, "encryption-keys");
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`Created a local encryption key at ${file}`);
    expect(messages[0]).not.toContain(first.split(":")[1]);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, "utf8")).trim()).toBe(first);
    expect(parseKeyRing(first).keyIds).toHaveLength(1);
    expect(await resolveEncryptionKeys(config, (msg) => messages.push(msg))).toBe(first);
    expect(messages).toHaveLength(1);
  });

  test("concurrent first runs agree on one key", async () => {
    const config = loadConfig({ REFRESCA_DATA_DIR: await tempDir() });
    const specs = await Promise.all(Array.from({ length: 5 }, () => resolveEncryptionKeys(config, () => {})));
    expect(new Set(specs).size).toBe(1);
  });

  test("a production database without keys refuses to start and says how to make one", async () => {
    const config = loadConfig({ DATABASE_URL: "postgres://db/refresca", REFRESCA_DATA_DIR: await tempDir() });
    const attempt = resolveEncryptionKeys(config, () => {});
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(/REFRESCA_ENCRYPTION_KEYS is required when DATABASE_URL is set/);
    await expect(attempt).rejects.toThrow(/npx refresca keys generate/);
    await expect(attempt).rejects.toThrow(/randomBytes\(32\)/);
  });
});

describe("the metrics variables", () => {
  test("METRICS_PORT is off by default; METRICS_HOST defaults to the loopback address and can be changed", () => {
    expect(loadConfig({}).worker).not.toHaveProperty("metricsPort");
    expect(loadConfig({ METRICS_PORT: "9464" }).worker).toMatchObject({ metricsPort: 9464, metricsHost: "127.0.0.1" });
    expect(loadConfig({ METRICS_PORT: "9464", METRICS_HOST: "0.0.0.0" }).worker).toMatchObject({ metricsPort: 9464, metricsHost: "0.0.0.0" });
    expect(loadConfig({ METRICS_HOST: "::" }).worker.metricsHost).toBe("::");
    expect(loadConfig({ METRICS_HOST: " " }).worker.metricsHost).toBe("127.0.0.1");
  });
});

describe("the web variables and resolveSessionSecret", () => {
  const secret = "s".repeat(32);

  test("reads PORT, HOST, REFRESCA_TRUST_PROXY, REFRESCA_SESSION_SECRET and REFRESCA_ADMIN_KEY", () => {
    expect(
      loadConfig({ PORT: "8080", HOST: "127.0.0.1", REFRESCA_TRUST_PROXY: "true", REFRESCA_SESSION_SECRET: secret, REFRESCA_ADMIN_KEY: `${secret}a` }).web,
    ).toEqual({ port: 8080, host: "127.0.0.1", trustProxy: true, sessionSecret: secret, adminKey: `${secret}a` });
  });

  test("a configured secret wins", async () => {
    const config = loadConfig({ REFRESCA_SESSION_SECRET: secret, DATABASE_URL: "postgres://db/x" });
    await expect(resolveSessionSecret(config, () => {})).resolves.toBe(secret);
  });

  test("the embedded default creates a 0600 session secret file once, says so without the secret, and reuses it", async () => {
    const dataDir = await tempDir();
    const messages: string[] = [];
    const config = loadConfig({ REFRESCA_DATA_DIR: dataDir });
    const first = await resolveSessionSecret(config, (msg) => messages.push(msg));
    expect(first.length).toBeGreaterThanOrEqual(32);
    const file = path.join(dataDir, "session-secret");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(messages).toEqual([expect.stringContaining(`Created a local session secret at ${file}`)]);
    expect(messages[0]).not.toContain(first);
    expect(await resolveSessionSecret(config, (msg) => messages.push(msg))).toBe(first);
    expect(messages).toHaveLength(1);
  });

  test("with DATABASE_URL and no secret, refuses to start and says how to make one", async () => {
    const config = loadConfig({ DATABASE_URL: "postgres://db/refresca", REFRESCA_DATA_DIR: await tempDir() });
    const attempt = resolveSessionSecret(config, () => {});
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(/REFRESCA_SESSION_SECRET is required when DATABASE_URL is set/);
    await expect(attempt).rejects.toThrow(/openssl rand -base64 32/);
  });
});
