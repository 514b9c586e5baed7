import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseKeyRing } from "../src/core/crypto";
import { rotateKeys } from "../src/core/keys";
import { createLogger } from "../src/core/logger";
import { createRefresca, type Refresca } from "../src/refresca";
import { startHarness, TEST_KEYS, type Harness } from "./support/harness";
import { workerEnv } from "./support/processes";

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

describe("refresca keys rotate with a credential that cannot be decrypted", () => {
  it("skips and names each unreadable channel, re-encrypts the rest, and the command exits non-zero with the list", async () => {
    const tenantId = h.tenant();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await h.addChannel({ tenantId, platform: "tiktok" })).id);
    const [garbled, foreign] = [ids[1]!, ids[4]!];
    // One envelope damaged in the database, one made with a key no process was given.
    const unknownRing = parseKeyRing(`lost:${randomBytes(32).toString("base64")}`);
    await h.sql("update channels set credentials = 'v1.test1.AAAA.not-an-envelope' where tenant_id = $1 and id = $2", [tenantId, garbled]);
    await h.sql("update channels set credentials = $3, key_id = 'lost' where tenant_id = $1 and id = $2", [
      tenantId,
      foreign,
      unknownRing.encrypt({ accessToken: "a", refreshToken: "r" }, { tenantId, channelId: foreign }),
    ]);
    try {
      const { store, keyRing, redis, keyPrefix } = rotating.internals;
      const first = await rotateKeys({ store, keyRing, redis, keyPrefix }, { batchSize: 2 });
      expect(first.reencrypted).toBe(4);
      expect(first.remaining).toBe(2);
      expect(first.skipped).toBe(2);
      expect(first.unreadable.map((u) => [u.tenantId, u.channelId]).sort()).toEqual([[tenantId, garbled], [tenantId, foreign]].sort());
      expect(Object.fromEntries(first.unreadable.map((u) => [u.channelId, u.reason]))).toEqual({
        [garbled]: expect.stringMatching(/malformed|unauthentic/),
        [foreign]: "unknown_key",
      });
      // The next run does not stop at them either: nothing left to re-encrypt, the same two named again.
      const again = await rotateKeys({ store, keyRing, redis, keyPrefix }, { batchSize: 2 });
      expect(again).toMatchObject({ reencrypted: 0, remaining: 2, skipped: 2 });

      const cli = await runCli(["keys", "rotate", "--batch", "2"], {
        ...workerEnv(h, { REFRESCA_ENCRYPTION_KEYS: `${NEW_KEY},${TEST_KEYS}` }),
      });
      expect(cli.code).toBe(2);
      expect(cli.stdout + cli.stderr).toContain(`tenant ${tenantId} channel ${garbled}`);
      expect(cli.stdout + cli.stderr).toContain(`tenant ${tenantId} channel ${foreign}`);
      expect(cli.stdout + cli.stderr).toMatch(/2 channel\(s\) could not be decrypted/);
    } finally {
      await h.sql("delete from channels where tenant_id = $1 and id = any($2)", [tenantId, [garbled, foreign]]);
    }
  }, 60_000);
});

/** `node bin/refresca.js …` with exactly this environment. */
async function runCli(args: string[], env: NodeJS.ProcessEnv) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["bin/refresca.js", ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
