import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/core/logger";
import { createRefresca, type Refresca } from "../src/refresca";
import { TEST_REDIS_URL } from "./env";
import { startHarness, type Harness } from "./support/harness";
import { waitFor } from "./support/wait";
import { redisNames } from "../src/core/redis-names";

let h: Harness;
/** A second Refresca on the same schema and Redis prefix: another process, as the CLI or another web process is. */
let other: Refresca;

beforeAll(async () => {
  h = await startHarness();
  other = await createRefresca({ ...h.options, migrate: false, logger: createLogger({ level: "silent" }) });
});
afterAll(async () => {
  await other?.close();
  await h?.close();
});

/** Counts the key lookups that reach PostgreSQL. */
function countLookups(refresca: Refresca) {
  const repository = refresca.internals.store.apiKeys;
  const original = repository.findActiveByHash.bind(repository);
  const counter = { lookups: 0, restore: () => void (repository.findActiveByHash = original) };
  repository.findActiveByHash = (hash) => {
    counter.lookups += 1;
    return original(hash);
  };
  return counter;
}

async function newKey(refresca: Refresca) {
  const made = await refresca.apiKeys.create({ name: "cache test", scopes: ["tokens:read"] });
  if (!made.success) throw new Error(made.error);
  return made;
}

/** Authenticates until an answer comes from the cache (the subscription is live), then resolves. */
async function untilRemembered(refresca: Refresca, key: string, counter: { lookups: number }) {
  await waitFor("the key to be remembered", async () => {
    const before = counter.lookups;
    await refresca.apiKeys.authenticate(key);
    return counter.lookups === before;
  }, 5_000);
}

describe("remembering who holds an API key", () => {
  it("answers repeated authentications without a database lookup", async () => {
    const made = await newKey(h.refresca);
    const counter = countLookups(h.refresca);
    try {
      await untilRemembered(h.refresca, made.apiKey, counter);
      const before = counter.lookups;
      for (let index = 0; index < 1000; index++) {
        expect((await h.refresca.apiKeys.authenticate(made.apiKey))?.keyId).toBe(made.key.id);
      }
      expect(counter.lookups - before).toBe(0);
    } finally {
      counter.restore();
    }
  });

  it("refuses a key revoked by another process as soon as the revocation is announced", async () => {
    const made = await newKey(h.refresca);
    const counter = countLookups(h.refresca);
    try {
      await untilRemembered(h.refresca, made.apiKey, counter);
      expect(await other.apiKeys.revoke({ id: made.key.id })).toMatchObject({ success: true });
      await waitFor("the revoked key to be refused", async () => (await h.refresca.apiKeys.authenticate(made.apiKey)) === null, 2_000);
    } finally {
      counter.restore();
    }
  });

  it("forgets everything when its subscription breaks, so a revocation missed meanwhile still counts", async () => {
    const made = await newKey(h.refresca);
    const counter = countLookups(h.refresca);
    const admin = new Redis(TEST_REDIS_URL);
    try {
      await untilRemembered(h.refresca, made.apiKey, counter);
      // Revoked in the database with no announcement (as if the message were lost), then the subscription breaks.
      await h.sql("update api_keys set revoked_at = now() where id = $1", [made.key.id]);
      expect((await h.refresca.apiKeys.authenticate(made.apiKey))?.keyId).toBe(made.key.id); // still remembered
      const clients = String(await admin.call("CLIENT", "LIST", "TYPE", "pubsub")).split("\n");
      const ours = clients.filter((line) => line.includes(` name=${redisNames(h.keyPrefix).apiKeyRevocations} `));
      expect(ours).toHaveLength(1);
      await admin.call("CLIENT", "KILL", "ID", /\bid=(\d+)/.exec(ours[0]!)![1]!);
      await waitFor("the missed revocation to count", async () => (await h.refresca.apiKeys.authenticate(made.apiKey)) === null, 5_000);
    } finally {
      counter.restore();
      admin.disconnect();
    }
  });
});
