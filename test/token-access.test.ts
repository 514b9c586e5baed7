import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { TEST_DATABASE_URL } from "./env";
import { startHarness, type Harness } from "./support/harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  await h?.close();
});

/** The access token stored for the channel, decrypted as the refresher would. */
async function storedToken(tenantId: string, channelId: string): Promise<string> {
  const row = await h.refresca.internals.store.channels.find(tenantId, channelId);
  return h.refresca.internals.keyRing.decrypt(row!.credentials, { tenantId, channelId }).accessToken;
}

const calls = async () => (await h.simulator.stats()).totalCalls;

describe("getAccessToken", () => {
  it("hands out a fresh token with one read of the channel and no platform call", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600, meta: { team: "growth" } });
    const before = await calls();
    const find = vi.spyOn(h.refresca.internals.store.channelTokens, "find");
    const refresh = vi.spyOn(h.refresca.internals.refresher, "refresh");

    const answer = await h.refresca.getAccessToken({ tenantId, channelId: channel.id });

    expect(answer).toMatchObject({
      success: true,
      channelId: channel.id,
      channelType: "tiktok",
      accessToken: channel.accessToken,
      refreshed: false,
      meta: { team: "growth" },
    });
    expect(answer).not.toHaveProperty("warning");
    if (!answer.success) return;
    expect(new Date(answer.expiresAt!).getTime()).toBeGreaterThan(Date.now() + 3500_000);
    expect(find).toHaveBeenCalledTimes(1);
    expect(refresh).not.toHaveBeenCalled();
    expect(await calls()).toBe(before);
    expect(await storedToken(tenantId, channel.id)).toBe(channel.accessToken);
  });

  it("refreshes a TikTok token expiring within the margin first and hands out the new one with the platform's facts", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 120, meta: { team: "growth" } });
    const [{ expires_at: oldExpiry }] = await h.sql("select expires_at from channels where tenant_id = $1", [tenantId]);
    const before = (await h.simulator.stats()).calls.tiktok;

    const answer = await h.refresca.getAccessToken({ tenantId, channelId: channel.id });

    expect(answer).toMatchObject({ success: true, channelType: "tiktok", refreshed: true });
    if (!answer.success) return;
    expect(answer.accessToken).not.toBe(channel.accessToken);
    expect(answer.accessToken).toBe(await storedToken(tenantId, channel.id));
    expect(new Date(answer.expiresAt!).getTime()).toBeGreaterThan(oldExpiry.getTime() + 3600_000);
    expect(answer.meta).toMatchObject({ team: "growth", open_id: expect.any(String), scope: expect.any(String) });
    expect((await h.simulator.stats()).calls.tiktok).toBe(before + 1);
    expect(await h.sql("select trigger, outcome from refresh_events where tenant_id = $1", [tenantId])).toEqual([
      { trigger: "read", outcome: "success" },
    ]);

    const again = await h.refresca.getAccessToken({ tenantId, channelId: channel.id });
    expect(again).toMatchObject({ success: true, accessToken: answer.accessToken, refreshed: false });
    expect((await h.simulator.stats()).calls.tiktok).toBe(before + 1);
  });

  it("refreshes only when the token expires within minValidityMinutes", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 1800 });
    const before = await calls();
    expect(await h.refresca.getAccessToken({ tenantId, channelId: channel.id, minValidityMinutes: 0 })).toMatchObject({
      accessToken: channel.accessToken,
      refreshed: false,
    });
    expect(await h.refresca.getAccessToken({ tenantId, channelId: channel.id, minValidityMinutes: 29 })).toMatchObject({
      accessToken: channel.accessToken,
      refreshed: false,
    });
    expect(await calls()).toBe(before);
    const wider = await h.refresca.getAccessToken({ tenantId, channelId: channel.id, minValidityMinutes: 60 });
    expect(wider).toMatchObject({ success: true, refreshed: true });
    expect(await calls()).toBe(before + 1);
  });

  it("never refreshes a token that never expires", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "whatsapp", neverExpires: true });
    const before = await calls();
    expect(await h.refresca.getAccessToken({ tenantId, channelId: channel.id, minValidityMinutes: 1440 })).toMatchObject({
      success: true,
      channelType: "whatsapp",
      accessToken: channel.accessToken,
      expiresAt: null,
      refreshed: false,
    });
    expect(await calls()).toBe(before);
  });

  it("makes one platform call for 1,000 concurrent reads of a channel expiring within the margin", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 60 });
    const before = (await h.simulator.stats()).calls.tiktok;
    // Latency keeps the platform call in flight long enough for every reader to pile up behind it.
    await h.simulator.configure({ latencyMs: 300 });
    try {
      const answers = await Promise.all(
        Array.from({ length: 1000 }, () => h.refresca.getAccessToken({ tenantId, channelId: channel.id })),
      );
      expect(answers.every((answer) => answer.success)).toBe(true);
      const tokens = new Set(answers.map((answer) => (answer.success ? answer.accessToken : answer.code)));
      expect(tokens.size).toBe(1);
      expect(tokens.has(channel.accessToken)).toBe(false);
      expect([...tokens][0]).toBe(await storedToken(tenantId, channel.id));
      expect(answers.some((answer) => answer.success && answer.refreshed)).toBe(true);
    } finally {
      await h.simulator.configure({ latencyMs: 0 });
    }
    const stats = await h.simulator.stats();
    expect(stats.calls.tiktok).toBe(before + 1);
    expect(stats.callsForToken(channel.refreshToken!)).toBe(1);
    expect(await h.sql("select outcome from refresh_events where tenant_id = $1", [tenantId])).toEqual([{ outcome: "success" }]);
  });

  it("makes one platform call for 200 concurrent reads spread over 3 processes", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 60 });
    const before = (await h.simulator.stats()).calls.tiktok;
    const { logger: _ignored, ...options } = h.options;
    const processes = [67, 67, 66].map((count, index) =>
      startProcess({ options, tenantId, channelId: channel.id, count, minValidityMinutes: 5, reader: `key_p${index}` }),
    );
    await h.simulator.configure({ latencyMs: 300 });
    try {
      for (const { lines } of processes) expect((await lines.next()).value).toBe("ready");
      for (const { child } of processes) child.stdin.write("go\n");
      const answers = (await Promise.all(processes.map(async ({ lines }) => JSON.parse((await lines.next()).value)))).flat();
      expect(answers).toHaveLength(200);
      expect(answers.every((answer: { success: boolean }) => answer.success)).toBe(true);
      const tokens = new Set(answers.map((answer: { accessToken: string }) => answer.accessToken));
      expect(tokens.size).toBe(1);
      expect([...tokens][0]).toBe(await storedToken(tenantId, channel.id));
      // Each process writes its reads as it closes.
      await Promise.all(processes.map(({ child }) => child.exitCode ?? once(child, "exit")));
    } finally {
      await h.simulator.configure({ latencyMs: 0 });
      for (const { child } of processes) child.kill();
    }
    const stats = await h.simulator.stats();
    expect(stats.calls.tiktok).toBe(before + 1);
    expect(stats.reuseDetected).toBe(0);
    const counted = await h.sql("select reader, sum(reads)::int as reads from token_reads where tenant_id = $1 group by reader order by reader", [tenantId]);
    expect(counted).toEqual([
      { reader: "key_p0", reads: 67 },
      { reader: "key_p1", reads: 67 },
      { reader: "key_p2", reads: 66 },
    ]);
  });

  it("hands out the stored token with a warning when the refresh fails during an outage but the token still works", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 120 });
    await h.simulator.inject({ kind: "unavailable", platform: "tiktok" });
    const answer = await h.refresca.getAccessToken({ tenantId, channelId: channel.id });
    expect(answer).toMatchObject({
      success: true,
      accessToken: channel.accessToken,
      refreshed: false,
      warning: { code: "PLATFORM_UNAVAILABLE", error: expect.any(String) },
    });
    expect((await h.sql("select status from channels where tenant_id = $1", [tenantId]))[0].status).toBe("active");
  });

  it("answers the refresh's failure when the stored token has expired", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 120 });
    await h.sql("update channels set expires_at = now() - interval '1 minute' where tenant_id = $1", [tenantId]);
    await h.simulator.inject({ kind: "unavailable", platform: "tiktok" });
    const outage = await h.refresca.getAccessToken({ tenantId, channelId: channel.id });
    expect(outage).toMatchObject({ success: false, code: "PLATFORM_UNAVAILABLE" });
    expect(JSON.stringify(outage)).not.toContain(channel.accessToken);

    await h.simulator.inject({ kind: "throttle", platform: "tiktok", retryAfterSeconds: 7 });
    expect(await h.refresca.getAccessToken({ tenantId, channelId: channel.id })).toMatchObject({
      success: false,
      code: "RATE_LIMITED",
      retryAfterSeconds: 7,
    });
    // TikTok's Retry-After holds for every caller: a read meanwhile does not call it again.
    const calls = (await h.simulator.stats()).totalCalls;
    const held = await h.refresca.getAccessToken({ tenantId, channelId: channel.id });
    expect(held).toMatchObject({ success: false, code: "RATE_LIMITED" });
    if (!held.success) expect(held.retryAfterSeconds).toBeLessThanOrEqual(7);
    expect((await h.simulator.stats()).totalCalls).toBe(calls);
    // Once that time has passed (moved here instead of waited for), the same read refreshes and hands out a working token.
    await h.sql("update channels set not_before = now() - interval '1 second' where tenant_id = $1", [tenantId]);
    expect(await h.refresca.getAccessToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true, refreshed: true });
  });

  it("hands out the stored token with a warning when Redis fails the refresh, and the failure once it has expired", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 120 });
    vi.spyOn(h.refresca.internals.refresher, "refresh").mockRejectedValue(new Error("Connection is closed."));
    expect(await h.refresca.getAccessToken({ tenantId, channelId: channel.id })).toMatchObject({
      success: true,
      accessToken: channel.accessToken,
      refreshed: false,
      warning: { code: "QUEUE_UNAVAILABLE" },
    });
    await h.sql("update channels set expires_at = now() - interval '1 minute' where tenant_id = $1", [tenantId]);
    expect(await h.refresca.getAccessToken({ tenantId, channelId: channel.id })).toMatchObject({
      success: false,
      code: "QUEUE_UNAVAILABLE",
    });
  });

  it("answers INVALID_CREDENTIALS for a revoked refresh token, then NEEDS_REAUTH without calling the platform", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 120 });
    await h.simulator.revoke(channel.refreshToken!);
    expect(await h.refresca.getAccessToken({ tenantId, channelId: channel.id })).toMatchObject({
      success: false,
      code: "INVALID_CREDENTIALS",
    });
    const before = await calls();
    const next = await h.refresca.getAccessToken({ tenantId, channelId: channel.id });
    expect(next).toMatchObject({ success: false, code: "NEEDS_REAUTH", error: expect.stringContaining("TikTok rejected") });
    expect(await h.refresca.getAccessToken({ tenantId, channelId: channel.id, minValidityMinutes: 0 })).toMatchObject({
      code: "NEEDS_REAUTH",
    });
    expect(await calls()).toBe(before);
  });

  it("hands out a token Meta would not extend, with a NOT_EXTENDED warning, until it expires", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 1200, meta: { pageId: "p1" } });
    // Stored a while ago: a refresh seconds after the last one could not tell a token that slid from one that did not.
    await h.sql("update channels set created_at = now() - interval '1 day' where tenant_id = $1", [tenantId]);
    await h.simulator.configure({ meta: { extends: false } });
    try {
      const first = await h.refresca.getAccessToken({ tenantId, channelId: channel.id, minValidityMinutes: 30 });
      expect(first).toMatchObject({ success: true, refreshed: true, meta: { pageId: "p1" }, warning: { code: "NOT_EXTENDED" } });
      if (!first.success) return;
      expect(first.accessToken).toBe(await storedToken(tenantId, channel.id));
      expect((await h.sql("select status from channels where tenant_id = $1", [tenantId]))[0].status).toBe("needs_reauth");

      const before = await calls();
      const flagged = await h.refresca.getAccessToken({ tenantId, channelId: channel.id, minValidityMinutes: 30 });
      expect(flagged).toMatchObject({
        success: true,
        accessToken: first.accessToken,
        refreshed: false,
        warning: { code: "NOT_EXTENDED", error: expect.stringContaining("It expires at") },
      });
      expect(await calls()).toBe(before);

      await h.sql("update channels set expires_at = now() - interval '1 second' where tenant_id = $1", [tenantId]);
      expect(await h.refresca.getAccessToken({ tenantId, channelId: channel.id })).toMatchObject({
        success: false,
        code: "NEEDS_REAUTH",
      });
      expect(await calls()).toBe(before);
    } finally {
      await h.simulator.configure({ meta: { extends: true } });
    }
  });

  it("answers NOT_FOUND for another tenant's channel and an unknown tenant, reading nothing else", async () => {
    const owner = h.tenant();
    const intruder = h.tenant();
    const channel = await h.addChannel({ tenantId: owner, platform: "tiktok", expiresInSeconds: 60 });
    await h.addChannel({ tenantId: intruder, platform: "tiktok" });
    const before = await calls();
    const refresh = vi.spyOn(h.refresca.internals.refresher, "refresh");
    for (const tenantId of [intruder, h.tenant()]) {
      const answer = await h.refresca.getAccessToken({ tenantId, channelId: channel.id });
      expect(answer).toMatchObject({ success: false, code: "NOT_FOUND" });
      expect(JSON.stringify(answer)).not.toContain(channel.accessToken);
    }
    expect(refresh).not.toHaveBeenCalled();
    expect(await calls()).toBe(before);
  });

  const malformed: Array<[string, unknown]> = [
    ["minValidityMinutes -1", { minValidityMinutes: -1 }],
    ["minValidityMinutes 1441", { minValidityMinutes: 1441 }],
    ["minValidityMinutes 1.5", { minValidityMinutes: 1.5 }],
    ["minValidityMinutes as a string", { minValidityMinutes: "5" }],
    ["a 10 kB channel id", { channelId: "x".repeat(10_000) }],
    ["an extra field", { reader: "someone-else" }],
    ["a missing tenant", { tenantId: undefined }],
  ];
  it.each(malformed)("refuses %s with INVALID_INPUT and reads nothing", async (_name, change) => {
    const find = vi.spyOn(h.refresca.internals.store.channelTokens, "find");
    const answer = await h.refresca.getAccessToken({ tenantId: "t1", channelId: "c1", ...(change as object) } as never);
    expect(answer).toMatchObject({ success: false, code: "INVALID_INPUT" });
    if (!answer.success) expect(answer.error.length).toBeLessThan(400);
    expect(find).not.toHaveBeenCalled();
  });

  it("names the offending field", async () => {
    const answer = await h.refresca.getAccessToken({ tenantId: "t1", channelId: "c1", minValidityMinutes: -1 });
    expect(answer).toMatchObject({ code: "INVALID_INPUT", error: expect.stringContaining("minValidityMinutes") });
  });

  it("refuses a reader name that is empty or too long", async () => {
    for (const reader of ["", "k".repeat(129)]) {
      expect(await h.refresca.getAccessToken({ tenantId: "t1", channelId: "c1" }, { reader })).toMatchObject({
        code: "INVALID_INPUT",
        error: expect.stringContaining("reader"),
      });
    }
  });
});

describe("the audit of token reads", () => {
  const audit = () => h.refresca.internals.tokenReads;

  it("counts the reads per reader, channel and minute, with how many refreshed", async () => {
    const tenantId = h.tenant();
    const fresh = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    const expiring = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 60 });
    for (let i = 0; i < 3; i++) await h.refresca.getAccessToken({ tenantId, channelId: fresh.id });
    for (let i = 0; i < 2; i++) await h.refresca.getAccessToken({ tenantId, channelId: fresh.id }, { reader: "key_abc" });
    expect(await h.refresca.getAccessToken({ tenantId, channelId: expiring.id }, { reader: "key_abc" })).toMatchObject({ refreshed: true });
    expect(await h.refresca.getAccessToken({ tenantId, channelId: expiring.id }, { reader: "key_abc" })).toMatchObject({ refreshed: false });
    // Failed reads hand out no token and are not counted.
    await h.refresca.getAccessToken({ tenantId, channelId: "missing" }, { reader: "key_abc" });
    expect(await audit().flush()).toBe(true);

    const answer = await h.refresca.audit({ tenantId });
    expect(answer.success).toBe(true);
    if (!answer.success) return;
    for (const row of answer.reads) expect(new Date(row.minute).getTime() % 60_000).toBe(0);
    // Reads may straddle a minute: sum them per channel and reader.
    const totals = (reads: typeof answer.reads) => {
      const sums: Record<string, { reads: number; refreshed: number }> = {};
      for (const row of reads) {
        const sum = (sums[`${row.channelId} ${row.reader}`] ??= { reads: 0, refreshed: 0 });
        sum.reads += row.reads;
        sum.refreshed += row.refreshed;
      }
      return sums;
    };
    expect(totals(answer.reads)).toEqual({
      [`${fresh.id} library`]: { reads: 3, refreshed: 0 },
      [`${fresh.id} key_abc`]: { reads: 2, refreshed: 0 },
      [`${expiring.id} key_abc`]: { reads: 2, refreshed: 1 },
    });
    const minutes = answer.reads.map((row) => row.minute);
    expect(minutes).toEqual([...minutes].sort().reverse());

    // More reads in the same minute add to the stored counts.
    await h.refresca.getAccessToken({ tenantId, channelId: fresh.id });
    await audit().flush();
    const later = await h.refresca.audit({ tenantId, channelId: fresh.id });
    expect(later.success && totals(later.reads)).toEqual({
      [`${fresh.id} library`]: { reads: 4, refreshed: 0 },
      [`${fresh.id} key_abc`]: { reads: 2, refreshed: 0 },
    });
    expect(await h.refresca.audit({ tenantId, limit: 1 })).toMatchObject({ reads: [expect.any(Object)] });
    expect(await h.refresca.audit({ tenantId, since: new Date(Date.now() + 120_000).toISOString() })).toMatchObject({ reads: [] });
    expect(await h.refresca.audit({ tenantId: h.tenant() })).toMatchObject({ success: false, code: "NOT_FOUND" });
    const other = h.tenant();
    await h.addChannel({ tenantId: other, platform: "tiktok" });
    expect(await h.refresca.audit({ tenantId: other })).toMatchObject({ success: true, reads: [] });
    for (const input of [{ tenantId, limit: 0 }, { tenantId, since: "yesterday" }, { tenantId, channelId: "a b" }, { tenantId, reader: "x" }]) {
      expect(await h.refresca.audit(input as never)).toMatchObject({ code: "INVALID_INPUT" });
    }
  });

  it("serves reads while the audit's write waits for the database", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    await h.refresca.getAccessToken({ tenantId, channelId: channel.id });
    const blocker = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${h.schema}` });
    await blocker.connect();
    let flushed = false;
    let flush: Promise<boolean> | undefined;
    try {
      await blocker.query("begin");
      await blocker.query("lock table token_reads in access exclusive mode");
      flush = audit().flush().then((ok) => ((flushed = true), ok));
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => h.refresca.getAccessToken({ tenantId, channelId: channel.id })),
      );
      expect(answers.every((answer) => answer.success && answer.accessToken === channel.accessToken)).toBe(true);
      expect(performance.now() - started).toBeLessThan(2000);
      expect(flushed).toBe(false);
    } finally {
      await blocker.query("rollback");
      await blocker.end();
    }
    expect(await flush).toBe(true);
    await audit().flush();
    const [{ reads }] = await h.sql("select sum(reads)::int as reads from token_reads where tenant_id = $1", [tenantId]);
    expect(reads).toBe(21);
  });

  it("keeps the counts of a write that failed and writes them on the next try", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    await audit().flush();
    const logged = h.logs.length;
    await h.sql("alter table token_reads add constraint refuse_writes check (reads < 0) not valid");
    try {
      for (let i = 0; i < 5; i++) {
        expect(await h.refresca.getAccessToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
      }
      expect(await audit().flush()).toBe(false);
      expect(audit().pendingCounts).toBeGreaterThan(0);
      expect(h.logs.slice(logged).some((line) => line.includes("could not write the token read audit"))).toBe(true);
    } finally {
      await h.sql("alter table token_reads drop constraint refuse_writes");
    }
    await h.refresca.getAccessToken({ tenantId, channelId: channel.id });
    expect(await audit().flush()).toBe(true);
    const [{ reads }] = await h.sql("select sum(reads)::int as reads from token_reads where tenant_id = $1", [tenantId]);
    expect(reads).toBe(6);
  });

  it("deletes counts older than 90 days", async () => {
    const tenantId = h.tenant();
    await h.sql(
      `insert into token_reads (tenant_id, channel_id, reader, minute, reads, refreshed)
       values ($1, 'c1', 'library', now() - interval '91 days', 1, 0), ($1, 'c1', 'library', date_trunc('minute', now() - interval '89 days'), 2, 0)`,
      [tenantId],
    );
    await audit().purge();
    expect(await h.sql("select reads from token_reads where tenant_id = $1", [tenantId])).toEqual([{ reads: 2 }]);
  });

  it("leaves no token in token_reads, the refresh events or the logs", async () => {
    await audit().flush();
    const tokens = await h.simulator.issuedTokens();
    expect(tokens.length).toBeGreaterThan(10);
    const stored = JSON.stringify([
      ...(await h.sql("select * from token_reads")),
      ...(await h.sql("select * from refresh_events")),
    ]);
    expect(stored).toContain("read"); // the audit and the read-triggered refreshes are there
    const logs = h.logs.join("\n");
    expect(logs).toContain('"trigger":"read"');
    for (const token of tokens) {
      expect(stored.includes(token), "token_reads / refresh_events").toBe(false);
      expect(logs.includes(token), "logs").toBe(false);
    }
  });
});

function startProcess(args: object): { child: ChildProcessWithoutNullStreams; lines: AsyncIterator<string> } {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/read-burst.ts", JSON.stringify(args)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, lines };
}
