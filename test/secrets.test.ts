import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLATFORMS } from "../src/core/types";
import { SIM_META_APP_SECRET, SIM_TIKTOK_CLIENT_SECRET } from "../src/simulator";
import { TEST_DATABASE_URL } from "./env";
import { ACME, startHarness, TEST_KEYS, withConfiguredProvider, type Harness } from "./support/harness";
import { waitFor } from "./support/wait";

const run = promisify(execFile);
let h: Harness;
beforeAll(async () => {
  // Besides the four built-ins, a generic OAuth 2.0 provider configured by data ("acme", rotating refresh tokens).
  h = await startHarness(withConfiguredProvider({ refresca: { queue: { backoffMs: 100 } } }));
  await h.refresca.startWorker();
});

/** Every value under the installation's Redis prefix, read by type (DUMP would compress long strings). */
async function redisText(): Promise<string> {
  const redis = h.refresca.internals.redis;
  const parts: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${h.keyPrefix}*`, "COUNT", 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      parts.push(key);
      if (type === "string") parts.push((await redis.get(key)) ?? "");
      else if (type === "hash") parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === "list") parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === "set") parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === "zset") parts.push(JSON.stringify(await redis.zrange(key, 0, -1, "WITHSCORES")));
      else if (type === "stream") parts.push(JSON.stringify(await redis.xrange(key, "-", "+")));
    }
  } while (cursor !== "0");
  return parts.join("\n");
}
afterAll(async () => {
  await h?.close();
});

/**
 * Every row of the test's schema as text: pg_dump's data-only dump; where pg_dump is not installed, or is older than
 * the server (it refuses to dump a newer one, e.g. the embedded PostgreSQL 18), each table's rows in PostgreSQL's own
 * text form, which is what a data-only dump holds.
 */
async function databaseDump(): Promise<string> {
  try {
    const { stdout } = await run("pg_dump", ["--data-only", "--schema", h.schema, TEST_DATABASE_URL], { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { code, stderr } = error as { code?: unknown; stderr?: string };
    if (code !== "ENOENT" && !/server version mismatch/.test(stderr ?? "")) throw error;
  }
  const tables = await h.sql<{ name: string }>("select tablename as name from pg_tables where schemaname = $1 order by 1", [h.schema]);
  expect(tables.length).toBeGreaterThan(0);
  const parts: string[] = [];
  for (const { name } of tables) {
    const rows = await h.sql<{ row: string }>(`select t::text as row from "${h.schema}"."${name}" t`);
    parts.push(`-- ${name}`, ...rows.map((r) => r.row));
  }
  return parts.join("\n");
}

describe("secrets stay secret", () => {
  it("leaves no token or app secret in a database dump, Redis, the debug logs, the metrics or any answer", async () => {
    const tenantId = h.tenant();
    const answers: unknown[] = [];
    const channels = [];
    for (const platform of PLATFORMS) {
      channels.push(await h.addChannel({ tenantId, platform, expiresInSeconds: 120 }));
      channels.push(await h.addChannel({ tenantId, platform, expiresInSeconds: 90_000 }));
    }
    const acme = [
      await h.addConfiguredChannel({ tenantId, expiresInSeconds: 120 }),
      await h.addConfiguredChannel({ tenantId, expiresInSeconds: 90_000 }),
      await h.addConfiguredChannel({ tenantId, expiresInSeconds: 90_000 }),
    ];
    channels.push(...acme);
    answers.push(await h.refresca.refreshMultipleChannelTokens({ tenantId }));
    for (const channel of channels) answers.push(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id }));
    await h.simulator.inject({ kind: "throttle", retryAfterSeconds: 3 });
    await h.simulator.inject({ kind: "unavailable" });
    await h.simulator.revoke(channels[6]!.refreshToken!);
    // The acme side: a throttle, an outage, an HTML error page, a revoked grant (invalid_grant) and rejected app
    // credentials (invalid_client, answered while Refresca sends its client secret).
    h.simulator.oauth2.revoke(acme[0]!.refreshToken!);
    const acmeFailures = [await h.refresca.refreshChannelToken({ tenantId, channelId: acme[0]!.id })];
    h.simulator.oauth2.inject({ kind: "unavailable", provider: ACME.id });
    h.simulator.oauth2.inject({ kind: "html502", provider: ACME.id });
    for (const channel of [acme[1]!, acme[2]!]) acmeFailures.push(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id }));
    h.simulator.oauth2.configure(ACME.id, { clientSecret: "the-server-wants-another-secret" });
    acmeFailures.push(await h.refresca.refreshChannelToken({ tenantId, channelId: acme[2]!.id }));
    h.simulator.oauth2.configure(ACME.id, { clientSecret: ACME.clientSecret });
    // Last: a throttle holds every channel of the provider's app for its Retry-After.
    h.simulator.oauth2.inject({ kind: "throttle", provider: ACME.id, retryAfterSeconds: 3 });
    acmeFailures.push(await h.refresca.refreshChannelToken({ tenantId, channelId: acme[1]!.id }));
    const codes = acmeFailures.map((answer) => (answer.success ? "success" : answer.code));
    expect([...codes.slice(0, 3), codes[4]]).toEqual(["INVALID_CREDENTIALS", "PLATFORM_UNAVAILABLE", "PLATFORM_UNAVAILABLE", "RATE_LIMITED"]);
    expect(acmeFailures[3]).toMatchObject({ success: false }); // the app's credentials rejected (invalid_client)
    answers.push(...acmeFailures);
    const [revoked] = await h.sql("select status from channels where tenant_id = $1 and id = $2", [tenantId, acme[0]!.id]);
    expect(revoked.status).toBe("needs_reauth");
    for (const channel of channels) answers.push(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id }));
    // Token reads (their answers carry tokens by design, so they are not among the answers searched): the refreshes
    // they trigger, their failures and the audit they leave must not hold a token either.
    for (const channel of channels) {
      await h.refresca.getAccessToken({ tenantId, channelId: channel.id, minValidityMinutes: 1440 }, { reader: "key_secrets" });
    }
    await h.refresca.internals.tokenReads.flush();
    answers.push(await h.refresca.audit({ tenantId }));
    answers.push(await h.refresca.getChannelsNeedingTokenRefresh({ tenantId, refreshBeforeMinutes: 525_600 }));
    answers.push(await h.refresca.getRefreshStatistics({ tenantId }));
    answers.push(await h.refresca.channels.list({ tenantId }));
    for (const channel of channels) answers.push(await h.refresca.channels.get({ tenantId, channelId: channel.id }));
    // The queue's side: scheduled, recurring and failing jobs, with their job logs and failure reasons.
    await h.simulator.inject({ kind: "unavailable", count: 6 });
    h.simulator.oauth2.inject({ kind: "unavailable", provider: ACME.id, count: 2 });
    for (const channel of channels) {
      answers.push(await h.refresca.scheduleChannelTokenRefresh({ tenantId, channelId: channel.id, delayMinutes: 0 }));
    }
    answers.push(await h.refresca.scheduleRecurringTokenRefresh({ tenantId, intervalMinutes: 5 }));
    await waitFor("the queued refreshes to finish", async () => {
      const status = await h.refresca.getTokenRefreshJobsStatus({ tenantId });
      return status.success && status.jobsActive + status.jobsWaiting === 0 && status.jobsCompleted + status.jobsFailed >= channels.length;
    });
    answers.push(await h.refresca.getTokenRefreshJobsStatus({ tenantId }));

    const tokens = await h.simulator.issuedTokens();
    expect(tokens.length).toBeGreaterThan(channels.length); // refreshes minted new ones too
    // Every token the simulated OAuth 2.0 provider minted starts "simo2_acme_": the search below is for that prefix.
    const acmeTokens = acme.flatMap((channel) => [channel.accessToken, channel.refreshToken!]);
    expect(acmeTokens.every((token) => token.startsWith(`simo2_${ACME.id}_`))).toBe(true);
    const live = await h.refresca.getAccessToken({ tenantId, channelId: acme[1]!.id });
    expect(live.success && live.accessToken).toMatch(new RegExp(`^simo2_${ACME.id}_at_`));
    expect(live.success && live.accessToken).not.toBe(acme[1]!.accessToken); // refreshed: new acme tokens exist
    expect(h.simulator.oauth2.stats().calls[ACME.id]).toBeGreaterThanOrEqual(acme.length * 2);
    const secrets = [...tokens, ...acmeTokens, `simo2_${ACME.id}_`, ACME.clientSecret, SIM_META_APP_SECRET, SIM_TIKTOK_CLIENT_SECRET, TEST_KEYS.split(":")[1]!];

    const dump = await databaseDump();
    expect(dump).toContain(channels[0]!.id); // the dump is the real one
    expect(dump).toContain(acme[0]!.id); // with the acme channels
    expect(dump).toContain("key_secrets"); // with the audit of token reads
    const logs = h.logs.join("\n");
    expect(logs.length).toBeGreaterThan(0);
    const answerText = JSON.stringify(answers);
    const redis = await redisText();
    expect(redis).toContain("attempt 1/3"); // job logs were read
    const metrics = await h.refresca.metrics.registry.metrics();
    expect(metrics).toContain("refresca_refreshes_total");
    for (const secret of secrets) {
      expect(redis.includes(secret), "redis").toBe(false);
      expect(metrics.includes(secret), "metrics").toBe(false);
      expect(dump.includes(secret), "database dump").toBe(false);
      expect(logs.includes(secret), "logs").toBe(false);
      expect(answerText.includes(secret), "answers").toBe(false);
    }
  });
});
