import { Writable } from "node:stream";
import type { Redis } from "ioredis";
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

/** Makes PostgreSQL refuse every change of a channel's credentials (a database that fails the save) until dropped. */
async function refuseCredentialWrites(): Promise<() => Promise<void>> {
  await h.sql(`create or replace function refuse_credentials() returns trigger language plpgsql as $$
    begin
      if new.credentials is distinct from old.credentials then
        raise exception 'simulated outage' using errcode = '08006';
      end if;
      return new;
    end $$`);
  await h.sql("create trigger refuse_credentials before update on channels for each row execute function refuse_credentials()");
  return async () => {
    await h.sql("drop trigger if exists refuse_credentials on channels");
  };
}

/**
 * Makes one Redis client refuse the SET of one key, as Redis does when it is out of memory, while every other command
 * works (fault injection on the real Redis). Answers the function that takes the refusal back.
 */
function refuseSet(redis: Redis, key: string): () => void {
  const set = redis.set;
  redis.set = ((...args: Parameters<typeof set>) =>
    args[0] === key ? Promise.reject(new Error("OOM command not allowed when used memory > 'maxmemory'.")) : set.apply(redis, args)) as typeof set;
  return () => {
    redis.set = set;
  };
}

async function storedCredentials(tenantId: string, channelId: string) {
  const [row] = await h.sql("select credentials from channels where tenant_id = $1 and id = $2", [tenantId, channelId]);
  return h.refresca.internals.keyRing.decrypt(row.credentials, { tenantId, channelId });
}

/** The same channel input again with another display name: what a rename through `channels.upsert` sends. */
function rename(tenantId: string, channel: { id: string; accessToken: string; refreshToken?: string }, displayName: string) {
  return h.refresca.channels.upsert({
    tenantId,
    id: channel.id,
    type: "tiktok",
    displayName,
    accessToken: channel.accessToken,
    ...(channel.refreshToken && { refreshToken: channel.refreshToken }),
  });
}

describe("the recovery stash", () => {
  it("is saved by the next refresh after a rename during the TikTok call and refused saves: the stash held the only valid token", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    const reuseBefore = (await h.simulator.stats()).reuseDetected;
    await h.simulator.configure({ latencyMs: { tiktok: 600 } });
    let allow: (() => Promise<void>) | undefined;
    try {
      const refreshing = h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
      await waitFor("the refresh to reach TikTok", async () => (await h.simulator.stats()).inFlight === 1);
      expect(await rename(tenantId, channel, "renamed while refreshing")).toMatchObject({ success: true });
      allow = await refuseCredentialWrites();
      expect(await refreshing).toMatchObject({ success: false, code: "STORE_UNAVAILABLE" });
    } finally {
      await allow?.();
      await h.simulator.configure({ latencyMs: 0 });
    }
    expect(await h.refresca.internals.redis.exists(redisNames(h.keyPrefix).recoveryStash(tenantId, channel.id))).toBe(1);
    const callsBefore = (await h.simulator.stats()).calls.tiktok;

    // The stored credentials are still the ones the stash replaced (the rename kept them): the stash is saved.
    const recovered = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    expect(recovered, JSON.stringify(recovered)).toMatchObject({ success: true });
    expect((await h.simulator.stats()).calls.tiktok).toBe(callsBefore);
    expect((await storedCredentials(tenantId, channel.id)).refreshToken).not.toBe(channel.refreshToken);
    const [row] = await h.sql("select display_name, status from channels where tenant_id = $1", [tenantId]);
    expect(row).toEqual({ display_name: "renamed while refreshing", status: "active" });
    // And it holds TikTok's current refresh token: the next refresh works, with no reuse seen.
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
    const stats = await h.simulator.stats();
    expect(stats.callsForToken(channel.refreshToken!)).toBe(1);
    expect(stats.reuseDetected).toBe(reuseBefore);
  }, 30_000);

  it("is dropped when the channel was reconnected with other credentials since", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    const allow = await refuseCredentialWrites();
    try {
      expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ code: "STORE_UNAVAILABLE" });
    } finally {
      await allow();
    }
    const reconnected = await h.reconnect(tenantId, channel.id);
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
    expect(await h.refresca.internals.redis.exists(redisNames(h.keyPrefix).recoveryStash(tenantId, channel.id))).toBe(0);
    // The reconnect's token was the one refreshed, not the stash's.
    expect((await h.simulator.stats()).callsForToken(reconnected.refreshToken!)).toBe(1);
  }, 30_000);

  it("that cannot be written to Redis is logged as NOT kept, never as kept; this process still recovers it", async () => {
    const logs: string[] = [];
    const logger = createLogger({
      level: "debug",
      destination: new Writable({ write: (chunk, _encoding, done) => (logs.push(...String(chunk).split("\n").filter(Boolean)), done()) }),
    });
    const other = await createRefresca({ ...h.options, logger });
    const redis = other.internals.redis;
    let accept = () => {};
    try {
      const tenantId = h.tenant();
      const channel = await h.addChannel({ tenantId, platform: "tiktok" });
      const key = redisNames(h.keyPrefix).recoveryStash(tenantId, channel.id);
      // Redis refuses this one write, as it does when it is out of memory; everything else works.
      accept = refuseSet(redis, key);
      const allow = await refuseCredentialWrites();
      let answer;
      try {
        answer = await other.refreshChannelToken({ tenantId, channelId: channel.id });
      } finally {
        await allow();
      }
      expect(answer).toMatchObject({ success: false, code: "STORE_UNAVAILABLE" });
      const errors = logs.map((line) => JSON.parse(line)).filter((line) => line.level >= 50);
      expect(errors.map((line) => line.msg).join("\n")).toMatch(/NOT kept in Redis/);
      expect(logs.join("\n")).not.toContain("kept encrypted in Redis");
      expect(logs.join("\n")).not.toContain(channel.refreshToken!);
      expect(await redis.exists(key)).toBe(0);

      // The process that holds them saves them on the next refresh, without calling TikTok.
      const callsBefore = (await h.simulator.stats()).calls.tiktok;
      expect(await other.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
      expect((await h.simulator.stats()).calls.tiktok).toBe(callsBefore);
      expect((await storedCredentials(tenantId, channel.id)).refreshToken).not.toBe(channel.refreshToken);
    } finally {
      accept();
      await other.close();
    }
  }, 30_000);

  it("held in memory reaches Redis once Redis takes writes again, so any process can recover it", async () => {
    const other = await createRefresca({ ...h.options, logger: createLogger({ level: "silent" }) });
    const redis = other.internals.redis;
    let accept = () => {};
    try {
      const tenantId = h.tenant();
      const channel = await h.addChannel({ tenantId, platform: "tiktok" });
      const key = redisNames(h.keyPrefix).recoveryStash(tenantId, channel.id);
      accept = refuseSet(redis, key);
      const allow = await refuseCredentialWrites();
      try {
        expect(await other.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ code: "STORE_UNAVAILABLE" });
      } finally {
        await allow();
      }
      accept();
      await waitFor("the held stash to reach Redis", async () => (await redis.exists(key)) === 1, 15_000);
      // Another process (the harness's) recovers it.
      const callsBefore = (await h.simulator.stats()).calls.tiktok;
      expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
      expect((await h.simulator.stats()).calls.tiktok).toBe(callsBefore);
    } finally {
      accept();
      await other.close();
    }
  }, 40_000);
});

describe("channels.upsert and the crash marker", () => {
  it("a rename (same credentials) keeps the marker of an interrupted attempt; new credentials clear it", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    await h.sql("update channels set refresh_attempt_id = 'killed', refresh_started_at = now() where tenant_id = $1", [tenantId]);
    expect(await rename(tenantId, channel, "renamed")).toMatchObject({ success: true });
    const marker = async () => (await h.sql("select refresh_attempt_id from channels where tenant_id = $1", [tenantId]))[0].refresh_attempt_id;
    expect(await marker()).toBe("killed");

    const reconnected = await h.simulator.issue({ platform: "tiktok" });
    expect(await rename(tenantId, { id: channel.id, ...reconnected }, "reconnected")).toMatchObject({ success: true });
    expect(await marker()).toBeNull();
  });
});
