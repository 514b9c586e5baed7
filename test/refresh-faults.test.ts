import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/core/logger";
import { createRefresca } from "../src/refresca";
import { startHarness, type Harness } from "./support/harness";
import { waitFor } from "./support/wait";
import { redisNames } from "../src/core/redis-names";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Calls the simulated TikTok directly, as a refresh whose answer never reached Refresca would have. */
async function spendRefreshToken(refreshToken: string) {
  const response = await fetch(`${h.simulator.url}/v2/oauth/token/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      client_key: "sim-tiktok-key",
      client_secret: "sim-tiktok-secret",
      grant_type: "refresh_token",
      refresh_token: refreshToken,
    }),
  });
  expect(response.status).toBe(200);
}

function storedCredentials(tenantId: string, channelId: string, envelope: string) {
  return h.refresca.internals.keyRing.decrypt(envelope, { tenantId, channelId });
}

describe("a refresh cut off after the platform answered", () => {
  it("flags the channel ROTATION_LOST when the interrupted attempt had spent TikTok's refresh token", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    await h.sql("update channels set refresh_attempt_id = 'killed', refresh_started_at = now() where tenant_id = $1", [tenantId]);
    await spendRefreshToken(channel.refreshToken!);
    const answer = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    expect(answer).toMatchObject({ success: false, code: "ROTATION_LOST" });
    const [row] = await h.sql("select status, last_error_code, refresh_attempt_id from channels where tenant_id = $1", [tenantId]);
    expect(row).toEqual({ status: "needs_reauth", last_error_code: "ROTATION_LOST", refresh_attempt_id: null });
    // Flagged, not retried in a loop: the next attempt does not reach the platform.
    const calls = (await h.simulator.stats()).totalCalls;
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ code: "NEEDS_REAUTH" });
    expect((await h.simulator.stats()).totalCalls).toBe(calls);
  });

  it("refreshes normally when the interrupted attempt never reached the platform", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    await h.sql("update channels set refresh_attempt_id = 'killed', refresh_started_at = now() where tenant_id = $1", [tenantId]);
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
    const [row] = await h.sql("select refresh_attempt_id from channels where tenant_id = $1", [tenantId]);
    expect(row.refresh_attempt_id).toBeNull();
  });
});

describe("saving a refresh", () => {
  it("keeps rotated tokens when the database refuses the save, and saves them on the next attempt without a platform call", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    const reuseBefore = (await h.simulator.stats()).reuseDetected;
    await h.sql(`create function refuse_credentials() returns trigger language plpgsql as $$
      begin
        if new.credentials is distinct from old.credentials then
          raise exception 'simulated outage' using errcode = '08006';
        end if;
        return new;
      end $$`);
    await h.sql(`create trigger refuse_credentials before update on channels for each row execute function refuse_credentials()`);
    let answer;
    try {
      answer = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    } finally {
      await h.sql("drop trigger refuse_credentials on channels");
      await h.sql("drop function refuse_credentials()");
    }
    expect(answer).toMatchObject({ success: false, code: "STORE_UNAVAILABLE" });
    const stashed = await h.refresca.internals.redis.get(redisNames(h.keyPrefix).recoveryStash(tenantId, channel.id));
    expect(stashed).toBeTruthy();
    expect(stashed).not.toContain(channel.refreshToken!);
    const callsAfterFirst = (await h.simulator.stats()).calls.tiktok;

    const recovered = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    expect(recovered).toMatchObject({ success: true });
    expect((await h.simulator.stats()).calls.tiktok).toBe(callsAfterFirst);
    // The saved refresh token is the rotated one: the next refresh uses it and the platform sees no reuse.
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
    const stats = await h.simulator.stats();
    expect(stats.reuseDetected).toBe(reuseBefore);
    expect(stats.callsForToken(channel.refreshToken!)).toBe(1);
  }, 30_000);

  it("keeps the credentials of a reconnect that happened while the refresh was in flight", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    await h.simulator.configure({ latencyMs: 400 });
    try {
      const calls = (await h.simulator.stats()).totalCalls;
      const refreshing = h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
      await h.platformCalled(calls); // the refresh is in flight at the platform
      const reconnected = await h.reconnect(tenantId, channel.id);
      expect(await refreshing).toMatchObject({ success: false, code: "SUPERSEDED" });
      const [row] = await h.sql("select credentials from channels where tenant_id = $1", [tenantId]);
      expect(storedCredentials(tenantId, channel.id, row.credentials).refreshToken).toBe(reconnected.refreshToken);
    } finally {
      await h.simulator.configure({ latencyMs: 0 });
    }
  });

  it("saves the refresh over an edit that kept the same credentials", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "facebook" });
    await h.simulator.configure({ latencyMs: 400 });
    try {
      const calls = (await h.simulator.stats()).totalCalls;
      const refreshing = h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
      await h.platformCalled(calls); // the refresh is in flight at the platform
      await h.sql("update channels set display_name = 'renamed', version = version + 1 where tenant_id = $1", [tenantId]);
      const answer = await refreshing;
      expect(answer).toMatchObject({ success: true });
      const [row] = await h.sql("select display_name, credentials, last_outcome from channels where tenant_id = $1", [tenantId]);
      expect(row.display_name).toBe("renamed");
      expect(row.last_outcome).toBe("success");
      expect(storedCredentials(tenantId, channel.id, row.credentials).accessToken).not.toBe(channel.accessToken);
    } finally {
      await h.simulator.configure({ latencyMs: 0 });
    }
  });
});

describe("fault 2: an attempt that lost its lock cannot spend or overwrite", () => {
  it(
    "a save held up past the lock's first lifetime: no second refresh presents the rotated-out token, and the channel keeps working",
    async () => {
      // Process A: one pooled connection, a 1 s platform deadline (its channel lock lives 1 + 15 s unless renewed).
      const a = await startHarness({ refresca: { poolSize: 1, platformTimeoutMs: 1000 }, simulator: { latencyMs: { tiktok: 300 } } });
      // Process B: the same database and Redis, its own pool.
      const b = await createRefresca({ ...a.options, logger: createLogger({ level: "silent" }) });
      try {
        const tenantId = a.tenant();
        const channel = await a.addChannel({ tenantId, platform: "tiktok" });
        const refreshingA = a.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
        await waitFor("A's call to TikTok", async () => (await a.simulator.stats()).inFlight === 1);
        // A's only connection is taken for 18 s while TikTok answers: A's save waits for it.
        const client = await a.refresca.internals.store.connection.pool.connect();
        const held = sleep(18_000).then(() => client.release());
        await sleep(16_500);
        const answerB = await b.refreshChannelToken({ tenantId, channelId: channel.id });
        await held;
        const answerA = await refreshingA;
        expect(answerA).toMatchObject({ success: true });
        expect(answerB).toMatchObject({ success: true });
        const stats = await a.simulator.stats();
        expect(stats.callsForToken(channel.refreshToken!)).toBe(1);
        expect(stats.reuseDetected).toBe(0);
        // The saved refresh token is the one TikTok issued last: the next refresh works.
        expect(await a.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
        const [row] = await a.sql("select status, last_outcome from channels where tenant_id = $1", [tenantId]);
        expect(row).toEqual({ status: "active", last_outcome: "success" });
      } finally {
        await b.close();
        await a.close();
      }
    },
    60_000,
  );

  it("the outcome of an attempt whose claim was taken over is not written over the newer attempt's", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "facebook" });
    await h.simulator.configure({ latencyMs: 400 });
    try {
      const calls = (await h.simulator.stats()).totalCalls;
      const refreshing = h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
      await h.platformCalled(calls); // the refresh is in flight at the platform
      // Another attempt claimed the channel meanwhile (this one's lock was lost) and recorded its own failure.
      await h.sql(
        `update channels set refresh_attempt_id = 'newer-attempt', last_outcome = 'failure', last_error_code = 'PLATFORM_UNAVAILABLE'
          where tenant_id = $1`,
        [tenantId],
      );
      expect(await refreshing).toMatchObject({ success: false, code: "SUPERSEDED" });
      const [row] = await h.sql("select credentials, last_outcome, last_error_code from channels where tenant_id = $1", [tenantId]);
      expect(row).toMatchObject({ last_outcome: "failure", last_error_code: "PLATFORM_UNAVAILABLE" });
      expect(storedCredentials(tenantId, channel.id, row.credentials).accessToken).toBe(channel.accessToken);
    } finally {
      await h.simulator.configure({ latencyMs: 0 });
    }
  });
});

describe("fault 3: a failed refresh does not undo a reconnect", () => {
  it("a refresh rejected while the channel is reconnected answers SUPERSEDED and leaves the reconnected channel active", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    // The refresh in flight presents a token TikTok no longer accepts: it will answer invalid_grant.
    await h.simulator.revoke(channel.refreshToken!);
    await h.simulator.configure({ latencyMs: 400 });
    try {
      const calls = (await h.simulator.stats()).totalCalls;
      const refreshing = h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
      await h.platformCalled(calls); // the refresh is in flight at the platform
      const reconnected = await h.reconnect(tenantId, channel.id);
      expect(await refreshing).toMatchObject({ success: false, code: "SUPERSEDED" });
      const [row] = await h.sql("select status, last_error_code from channels where tenant_id = $1", [tenantId]);
      expect(row).toEqual({ status: "active", last_error_code: null });
    } finally {
      await h.simulator.configure({ latencyMs: 0 });
    }
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
  });
});
