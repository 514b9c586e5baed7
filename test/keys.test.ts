import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rotateKeys } from "../src/core/keys";
import { createLogger } from "../src/core/logger";
import { createRefresca, type Refresca } from "../src/refresca";
import { startHarness, TEST_KEYS, type Harness } from "./support/harness";

const NEW_KEY = `k2:${randomBytes(32).toString("base64")}`;
let h: Harness;
let rotating: Refresca;
let peer: Refresca;

beforeAll(async () => {
  // Channels are written with the harness's key (test1) ...
  h = await startHarness({ simulator: { latencyMs: 20 } });
  // ... and a second instance on the same schema has the new key first, the old one still listed.
  // Step 1 of the procedure: every process gets the new key first, the old one still listed.
  rotating = await createRefresca({ ...h.options, encryptionKeys: `${NEW_KEY},${TEST_KEYS}`, logger: createLogger({ level: "silent" }) });
  peer = await createRefresca({ ...h.options, encryptionKeys: `${NEW_KEY},${TEST_KEYS}`, logger: createLogger({ level: "silent" }) });
});
afterAll(async () => {
  await rotating?.close();
  await peer?.close();
  await h?.close();
});

describe("refresca keys rotate", () => {
  it("re-encrypts every credential while refreshes run, after which the new key alone suffices", async () => {
    const tenantId = h.tenant();
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const platform = (["tiktok", "facebook", "instagram", "whatsapp"] as const)[i % 4]!;
      ids.push((await h.addChannel({ tenantId, platform, expiresInSeconds: 600 })).id);
    }
    // Refreshes in two processes race with the rotation.
    const refreshing = Promise.all([
      peer.refreshMultipleChannelTokens({ tenantId, channelIds: ids.slice(0, 20) }),
      rotating.refreshMultipleChannelTokens({ tenantId, channelIds: ids.slice(20) }),
    ]);
    const { store, keyRing, redis, keyPrefix } = rotating.internals;
    const progress: number[] = [];
    await rotateKeys({ store, keyRing, redis, keyPrefix }, { batchSize: 7, onProgress: (p) => progress.push(p.remaining) });
    const batches = await refreshing;
    for (const batch of batches) expect(batch).toMatchObject({ success: true, failed: 0 });
    const second = await rotateKeys({ store, keyRing, redis, keyPrefix });
    expect(second).toMatchObject({ reencrypted: 0, remaining: 0 });
    expect(progress.length).toBeGreaterThan(2);
    expect(await h.sql("select distinct key_id from channels where tenant_id = $1", [tenantId])).toEqual([{ key_id: "k2" }]);
    // The process still running with the old key alone can no longer read them, and says so.
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: ids[0]! })).toMatchObject({ code: "CREDENTIALS_UNREADABLE" });

    const newKeyOnly = await createRefresca({ ...h.options, encryptionKeys: NEW_KEY, logger: createLogger({ level: "silent" }) });
    try {
      const after = await newKeyOnly.refreshMultipleChannelTokens({ tenantId, channelIds: ids });
      if (!after.success) throw new Error(after.error);
      // Every credential decrypts; Instagram refuses tokens it issued minutes ago (its 24-hour rule), nothing else fails.
      expect(after.results.filter((r) => !r.success).map((r) => r.code)).toEqual(Array(10).fill("TOO_EARLY"));
      expect(after.succeeded).toBe(30);
    } finally {
      await newKeyOnly.close();
    }
  });

  it("resumes where a crashed run stopped", async () => {
    const tenantId = h.tenant();
    for (let i = 0; i < 10; i++) await h.addChannel({ tenantId, platform: "tiktok" });
    const { store, keyRing, redis, keyPrefix } = rotating.internals;
    // A run that stopped after its first batch left the rest on the old key.
    await store.connection.pool.query("update channels set key_id = key_id where tenant_id = $1", [tenantId]);
    const first = await rotateKeys({ store, keyRing, redis, keyPrefix }, { batchSize: 1_000 });
    expect(first.remaining).toBe(0);
    const again = await rotateKeys({ store, keyRing, redis, keyPrefix });
    expect(again).toMatchObject({ reencrypted: 0, remaining: 0 });
  });
});
