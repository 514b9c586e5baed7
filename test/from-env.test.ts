// The library takes its whole configuration as options; createRefrescaFromEnv is the one helper that reads variables.
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../src/config";
import { createLogger } from "../src/core/logger";
import { createRefrescaFromEnv } from "../src/from-env";
import { createRefresca, type RefrescaOptions } from "../src/refresca";
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from "./env";
import { deleteKeys, TEST_KEYS } from "./support/harness";

const silent = createLogger({ level: "silent" });
const schemas: string[] = [];
const prefixes: string[] = [];

afterAll(async () => {
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
  for (const schema of schemas) await pool.query(`drop schema if exists "${schema}" cascade`);
  await pool.end();
  for (const prefix of prefixes) await deleteKeys(prefix);
});

function unique() {
  const schema = uniqueName("env");
  const keyPrefix = `${uniqueName("env")}:`;
  schemas.push(schema);
  prefixes.push(keyPrefix);
  return { schema, keyPrefix };
}

describe("createRefresca(options)", () => {
  it("refuses to start without a database URL or keys, and names the helper that reads the environment", async () => {
    for (const options of [{ encryptionKeys: TEST_KEYS }, { databaseUrl: TEST_DATABASE_URL }, {}]) {
      await expect(createRefresca(options as unknown as RefrescaOptions)).rejects.toThrow(/is required.*createRefrescaFromEnv\(\)/);
    }
  });

  it("reads no environment variable: a broken environment changes nothing", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      DATABASE_URL: "mysql://nowhere",
      REDIS_URL: "not a url",
      REFRESCA_ENCRYPTION_KEYS: "broken",
      REFRESCA_DB_SCHEMA: "Not Valid",
      LOG_LEVEL: "loud",
    });
    try {
      const { schema, keyPrefix } = unique();
      const refresca = await createRefresca({ databaseUrl: TEST_DATABASE_URL, encryptionKeys: TEST_KEYS, redisUrl: TEST_REDIS_URL, schema, keyPrefix, logger: silent });
      try {
        expect(refresca.internals.databaseUrl).toBe(TEST_DATABASE_URL);
        expect(await refresca.getRefreshStatistics({ tenantId: "nobody" })).toMatchObject({ success: false, code: "NOT_FOUND" });
      } finally {
        await refresca.close();
      }
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
      Object.assign(process.env, saved);
    }
  });
});

describe("createRefrescaFromEnv(overrides, env)", () => {
  it("takes the database, keys, Redis, schema and prefix from the variables; an override wins", async () => {
    const { schema, keyPrefix } = unique();
    const overridden = unique();
    const env = {
      DATABASE_URL: TEST_DATABASE_URL,
      REDIS_URL: TEST_REDIS_URL,
      REFRESCA_ENCRYPTION_KEYS: TEST_KEYS,
      REFRESCA_DB_SCHEMA: schema,
      REFRESCA_KEY_PREFIX: keyPrefix,
      REFRESCA_RETRY_BASE_MS: "1500",
      REFRESCA_CLAIM_BATCH: "40",
      REFRESCA_EXPIRY_LEAD_MINUTES: "tiktok=45",
    };
    const refresca = await createRefrescaFromEnv({ logger: silent, keyPrefix: overridden.keyPrefix }, env);
    try {
      expect(refresca.internals).toMatchObject({ databaseUrl: TEST_DATABASE_URL, keyPrefix: overridden.keyPrefix });
      // The plan's settings reach the queue; a type without a variable keeps its platform's lead.
      expect(refresca.internals.queue.settings).toMatchObject({ retryBaseMs: 1500, claimBatch: 40, expiryLeadMs: { tiktok: 45 * 60_000, instagram: 7 * 86_400_000 } });
      expect(refresca.internals.keyRing.activeKeyId).toBe("test1");
      const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
      const tables = await pool.query("select count(*)::int as n from information_schema.tables where table_schema = $1", [schema]);
      await pool.end();
      expect(tables.rows[0].n).toBeGreaterThan(0);
    } finally {
      await refresca.close();
    }
  });

  it("names each bad variable in a ConfigError, and refuses a database URL without keys", async () => {
    const bad = createRefrescaFromEnv({ logger: silent }, { DATABASE_URL: "mysql://db", REDIS_URL: "http://r" });
    await expect(bad).rejects.toBeInstanceOf(ConfigError);
    await expect(bad).rejects.toThrow(/DATABASE_URL[\s\S]*REDIS_URL/);
    await expect(createRefrescaFromEnv({ logger: silent }, { DATABASE_URL: TEST_DATABASE_URL })).rejects.toThrow(
      /REFRESCA_ENCRYPTION_KEYS is required when DATABASE_URL is set/,
    );
  });
});
