import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/core/logger";
import { redisNames } from "../src/core/redis-names";
import { createRefresca } from "../src/refresca";
import { startHarness, type Harness } from "./support/harness";
import { waitFor } from "./support/wait";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

function capturedLogger() {
  const lines: string[] = [];
  const logger = createLogger({
    level: "debug",
    destination: new Writable({ write: (chunk, _encoding, done) => (lines.push(...String(chunk).split("\n").filter(Boolean)), done()) }),
  });
  return { logger, lines };
}

async function storedRefreshToken(tenantId: string, channelId: string) {
  const [row] = await h.sql("select credentials from channels where tenant_id = $1 and id = $2", [tenantId, channelId]);
  return h.refresca.internals.keyRing.decrypt(row.credentials, { tenantId, channelId }).refreshToken;
}

describe("closing a Refresca while a platform call is running", () => {
  it("waits for the call and saves the rotated token before it closes the store and Redis", async () => {
    // Another process on the same database and Redis, closed while its TikTok call is in flight.
    const other = await createRefresca({ ...h.options, logger: createLogger({ level: "silent" }) });
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    await h.simulator.configure({ latencyMs: { tiktok: 1500 } });
    let answer;
    try {
      const refreshing = other.refreshChannelToken({ tenantId, channelId: channel.id });
      await waitFor("the refresh to reach TikTok", async () => (await h.simulator.stats()).inFlight === 1);
      await other.close();
      answer = await refreshing;
    } finally {
      await h.simulator.configure({ latencyMs: 0 });
    }
    expect(answer).toMatchObject({ success: true });
    const rotated = await storedRefreshToken(tenantId, channel.id);
    expect(rotated).not.toBe(channel.refreshToken);
    // What was saved is TikTok's current token: the next refresh works, and TikTok saw no reuse.
    const reuseBefore = (await h.simulator.stats()).reuseDetected;
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
    expect((await h.simulator.stats()).reuseDetected).toBe(reuseBefore);
  }, 30_000);

  it("refuses to start a refresh once closing, without calling the platform", async () => {
    const other = await createRefresca({ ...h.options, logger: createLogger({ level: "silent" }) });
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    const calls = (await h.simulator.stats()).calls.tiktok;
    const closing = other.close();
    const answer = await other.refreshChannelToken({ tenantId, channelId: channel.id });
    await closing;
    expect(answer).toMatchObject({ success: false, code: "QUEUE_UNAVAILABLE" });
    expect(!answer.success && answer.error).toMatch(/shutting down/);
    expect((await h.simulator.stats()).calls.tiktok).toBe(calls);
  });

  it("logs, by channel, new tokens neither the database nor Redis would take before it closed", async () => {
    const { logger, lines } = capturedLogger();
    const other = await createRefresca({ ...h.options, logger });
    const redis = other.internals.redis;
    const set = redis.set;
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    const key = redisNames(h.keyPrefix).recoveryStash(tenantId, channel.id);
    redis.set = ((...args: Parameters<typeof set>) =>
      args[0] === key ? Promise.reject(new Error("OOM command not allowed when used memory > 'maxmemory'.")) : set.apply(redis, args)) as typeof set;
    await h.sql(`create or replace function refuse_credentials() returns trigger language plpgsql as $$
      begin
        if new.credentials is distinct from old.credentials then raise exception 'simulated outage' using errcode = '08006'; end if;
        return new;
      end $$`);
    await h.sql("create trigger refuse_credentials before update on channels for each row execute function refuse_credentials()");
    try {
      expect(await other.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ code: "STORE_UNAVAILABLE" });
      await other.close();
    } finally {
      redis.set = set;
      await h.sql("drop trigger if exists refuse_credentials on channels");
    }
    const lost = lines.map((line) => JSON.parse(line)).filter((line) => line.level >= 50 && /lost at shutdown/.test(line.msg));
    expect(lost).toEqual([expect.objectContaining({ tenantId, channelId: channel.id })]);
    expect(lines.join("\n")).not.toContain(channel.refreshToken!);
  }, 30_000);
});

describe("a worker's shutdown bound", () => {
  it("must leave room for a platform call and the save of its answer: a shorter one is refused at start, saying why", async () => {
    const other = await createRefresca({ ...h.options, logger: createLogger({ level: "silent" }) });
    try {
      // The harness's platform deadline is 3 s.
      await expect(other.startWorker({ shutdownTimeoutMs: 2000 })).rejects.toThrow(
        /REFRESCA_SHUTDOWN_TIMEOUT_MS.*2000.*REFRESCA_PLATFORM_TIMEOUT_MS.*3000/s,
      );
    } finally {
      await other.close();
    }
  });
});
