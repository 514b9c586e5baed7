import { Writable } from "node:stream";
import { Redis } from "ioredis";
import pg from "pg";
import { createLogger } from "../../src/core/logger";
import type { OAuth2ProviderInput } from "../../src/core/providers/oauth2";
import type { BuiltInPlatform } from "../../src/core/types";
import { createRefresca, type Refresca, type RefrescaOptions } from "../../src/refresca";
import { refrescaSettingsFor, startSimulator, type OAuth2SimProvider, type Simulator, type SimulatorOptions } from "../../src/simulator";
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from "../env";
import { waitFor } from "./wait";

/** A fixed test key: tests must not depend on a key file on the machine. */
export const TEST_KEYS = "test1:" + Buffer.alloc(32, 7).toString("base64");

export interface Harness {
  simulator: Simulator;
  refresca: Refresca;
  schema: string;
  keyPrefix: string;
  /** Everything Refresca logged, at debug level, one JSON line each. */
  logs: string[];
  /** A tenant id no other test uses. */
  tenant(): string;
  /** Mints tokens at the simulator and stores a channel holding them. */
  addChannel(input: {
    tenantId: string;
    platform: BuiltInPlatform;
    id?: string;
    expiresInSeconds?: number;
    neverExpires?: boolean;
    meta?: Record<string, unknown>;
    withoutRefreshToken?: boolean;
  }): Promise<{ id: string; accessToken: string; refreshToken?: string }>;
  /**
   * Mints tokens at the simulator's generic OAuth 2.0 endpoint of a configured provider (see `withConfiguredProvider`)
   * and stores a channel of that type holding them.
   */
  addConfiguredChannel(input: {
    tenantId: string;
    /** @defaultValue "acme" */
    provider?: string;
    id?: string;
    /** Negative: already expired. @defaultValue 1800 */
    expiresInSeconds?: number;
    displayName?: string;
    meta?: Record<string, unknown>;
    withoutRefreshToken?: boolean;
  }): Promise<{ id: string; accessToken: string; refreshToken?: string }>;
  sql<T extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<T[]>;
  /** Reconnects a TikTok channel: new tokens minted at the simulator, saved with `channels.upsert`. */
  reconnect(tenantId: string, channelId: string): Promise<{ accessToken: string; refreshToken: string }>;
  /** Resolves once the simulator has received more calls in all than `before` (counted on arrival, before latency). */
  platformCalled(before: number): Promise<void>;
  /** The options the harness's Refresca uses, for more instances (other processes) on the same schema. */
  options: RefrescaOptions;
  close(): Promise<void>;
}

export interface HarnessSetup {
  simulator?: SimulatorOptions;
  /** Options, or options built from the simulator's URL (configured providers need their token URL). */
  refresca?: Partial<RefrescaOptions> | ((simulatorUrl: string) => Partial<RefrescaOptions>);
}

/** The generic OAuth 2.0 provider the tests configure by data: "acme", with app credentials that need encoding. */
export const ACME = { id: "acme", displayName: "Acme Social", clientId: "acme-client", clientSecret: "acme-secret with spaces&symbols" } as const;

/**
 * A setup whose Refresca configures a generic OAuth 2.0 provider (by default `ACME`, rotating refresh tokens) pointed
 * at the simulator's `POST /oauth2/<id>/token`, on top of `setup` (its other providers and options are kept).
 */
export function withConfiguredProvider(
  setup: HarnessSetup = {},
  provider: Partial<OAuth2ProviderInput> = {},
  simulated: Partial<OAuth2SimProvider> = {},
): HarnessSetup {
  const id = provider.id ?? ACME.id;
  const { clientId, clientSecret } = ACME;
  return {
    simulator: {
      ...setup.simulator,
      oauth2: { ...setup.simulator?.oauth2, [id]: { clientId, clientSecret, rotate: true, ...simulated } },
    },
    refresca: (url) => {
      const base = typeof setup.refresca === "function" ? setup.refresca(url) : (setup.refresca ?? {});
      const configured: OAuth2ProviderInput = {
        displayName: ACME.displayName,
        rotatesRefreshToken: true,
        ...provider,
        id,
        tokenUrl: `${url}/oauth2/${id}/token`,
        clientId,
        clientSecret,
      };
      return { ...base, providers: [...(base.providers ?? []), configured] };
    },
  };
}

export async function startHarness(setup: HarnessSetup = {}): Promise<Harness> {
  const simulator = await startSimulator(setup.simulator);
  const schema = uniqueName("t");
  const keyPrefix = `${uniqueName("t")}:`;
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  const options: RefrescaOptions = {
    databaseUrl: TEST_DATABASE_URL,
    schema,
    redisUrl: TEST_REDIS_URL,
    keyPrefix,
    encryptionKeys: TEST_KEYS,
    ...refrescaSettingsFor(simulator.url),
    platformTimeoutMs: 3000,
    ...(typeof setup.refresca === "function" ? setup.refresca(simulator.url) : setup.refresca),
  };
  const refresca = await createRefresca({
    logger: createLogger({ level: "debug", destination }),
    ...options,
  });
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2, options: `-c search_path=${schema}` });

  return {
    simulator,
    refresca,
    schema,
    keyPrefix,
    logs,
    options,
    tenant: () => uniqueName("tenant"),
    async addChannel(input) {
      const tokens = await simulator.issue({
        platform: input.platform,
        ...(input.neverExpires ? { neverExpires: true } : { accessExpiresInSeconds: input.expiresInSeconds ?? 1800 }),
        issuedAt: new Date(Date.now() - 2 * 86_400_000),
      });
      const refreshToken = input.withoutRefreshToken ? undefined : tokens.refreshToken;
      const answer = await refresca.channels.upsert({
        tenantId: input.tenantId,
        ...(input.id && { id: input.id }),
        type: input.platform,
        displayName: `${input.platform} channel`,
        localName: "@local",
        accessToken: tokens.accessToken,
        ...(refreshToken && { refreshToken }),
        expiresAt: tokens.expiresAt,
        ...(input.meta && { meta: input.meta }),
      });
      if (!answer.success) throw new Error(`addChannel: ${answer.error}`);
      return { id: answer.channel.id, accessToken: tokens.accessToken, ...(refreshToken && { refreshToken }) };
    },
    async addConfiguredChannel(input) {
      const provider = input.provider ?? ACME.id;
      const tokens = simulator.oauth2.issue(provider, { accessExpiresInSeconds: input.expiresInSeconds ?? 1800 });
      const answer = await refresca.channels.upsert({
        tenantId: input.tenantId,
        ...(input.id && { id: input.id }),
        type: provider,
        displayName: input.displayName ?? `${provider} channel`,
        localName: "@local",
        accessToken: tokens.accessToken,
        ...(!input.withoutRefreshToken && { refreshToken: tokens.refreshToken }),
        expiresAt: tokens.expiresAt,
        ...(input.meta && { meta: input.meta }),
      });
      if (!answer.success) throw new Error(`addConfiguredChannel: ${answer.error}`);
      return {
        id: answer.channel.id,
        accessToken: tokens.accessToken,
        ...(!input.withoutRefreshToken && { refreshToken: tokens.refreshToken }),
      };
    },
    async reconnect(tenantId, channelId) {
      const tokens = await simulator.issue({ platform: "tiktok" });
      const saved = await refresca.channels.upsert({
        tenantId,
        id: channelId,
        type: "tiktok",
        displayName: "reconnected",
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken!,
        expiresAt: tokens.expiresAt,
      });
      if (!saved.success) throw new Error(`reconnect: ${saved.error}`);
      return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken! };
    },
    async platformCalled(before) {
      await waitFor("a platform call to arrive at the simulator", async () => (await simulator.stats()).totalCalls > before, 10_000);
    },
    async sql(text, values) {
      return (await pool.query(text, values)).rows;
    },
    async close() {
      await refresca.close();
      await simulator.close();
      await pool.query(`drop schema if exists "${schema}" cascade`);
      await pool.end();
      await deleteKeys(keyPrefix);
    },
  };
}

/** Removes every Redis key under a test's prefix. */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}
