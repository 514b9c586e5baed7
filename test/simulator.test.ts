import { afterEach, describe, expect, it } from "vitest";
import {
  connectSimulator,
  SIM_META_APP_ID,
  SIM_META_APP_SECRET,
  SIM_TIKTOK_CLIENT_KEY,
  SIM_TIKTOK_CLIENT_SECRET,
  startSimulator,
  type Simulator,
  type SimulatorOptions,
} from "../src/simulator";

const DAY = 86_400;
const running: Simulator[] = [];

async function start(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator(options);
  running.push(sim);
  return sim;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.close()));
});

function metaExchange(sim: Simulator, token: string, extra: Record<string, string> = {}) {
  const query = new URLSearchParams({
    grant_type: "fb_exchange_token",
    client_id: SIM_META_APP_ID,
    client_secret: SIM_META_APP_SECRET,
    fb_exchange_token: token,
    ...extra,
  });
  return fetch(`${sim.url}/v25.0/oauth/access_token?${query}`);
}

function instagramRefresh(sim: Simulator, token: string) {
  return fetch(`${sim.url}/refresh_access_token?grant_type=ig_refresh_token&access_token=${encodeURIComponent(token)}`);
}

function threadsRefresh(sim: Simulator, token: string, grantType = "th_refresh_token") {
  return fetch(`${sim.url}/refresh_access_token?grant_type=${grantType}&access_token=${encodeURIComponent(token)}`);
}

function tiktokRefresh(sim: Simulator, refreshToken: string, app = { key: SIM_TIKTOK_CLIENT_KEY, secret: SIM_TIKTOK_CLIENT_SECRET }) {
  return fetch(`${sim.url}/v2/oauth/token/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_key: app.key, client_secret: app.secret, grant_type: "refresh_token", refresh_token: refreshToken }),
  });
}

const twoDaysAgo = () => new Date(Date.now() - 2 * DAY * 1000);

describe("simulator: Meta token exchange (Facebook, WhatsApp)", () => {
  it("returns a new bearer token with a full lifetime, and the old token keeps working", async () => {
    const sim = await start();
    const { accessToken } = await sim.issue({ platform: "facebook" });
    expect(accessToken).toMatch(/^simfb_/);
    const first = await metaExchange(sim, accessToken);
    expect(first.status).toBe(200);
    const body = (await first.json()) as Record<string, unknown>;
    expect(body).toEqual({ access_token: expect.stringMatching(/^simfb_/), token_type: "bearer", expires_in: 60 * DAY });
    expect(body.access_token).not.toBe(accessToken);
    expect((await metaExchange(sim, accessToken)).status).toBe(200);
    expect((await sim.stats()).callsForToken(accessToken)).toBe(2);
  });

  it("with extends: false keeps the original grant's expiry, so expires_in shrinks", async () => {
    const sim = await start({ meta: { extends: false } });
    const issued = await sim.issue({ platform: "facebook", accessExpiresInSeconds: 10 * DAY });
    const first = (await (await metaExchange(sim, issued.accessToken)).json()) as { access_token: string; expires_in: number };
    expect(first.expires_in).toBeLessThanOrEqual(10 * DAY);
    expect(first.expires_in).toBeGreaterThan(10 * DAY - 5);
    await new Promise((r) => setTimeout(r, 1100));
    const second = (await (await metaExchange(sim, first.access_token)).json()) as { expires_in: number };
    expect(second.expires_in).toBeLessThan(first.expires_in);
  });

  it("omits expires_in when configured, and for a never-expiring Page token", async () => {
    const sim = await start({ meta: { omitExpiresIn: true } });
    const issued = await sim.issue({ platform: "facebook" });
    expect(await (await metaExchange(sim, issued.accessToken)).json()).not.toHaveProperty("expires_in");
    await sim.configure({ meta: { omitExpiresIn: false } });
    const page = await sim.issue({ platform: "facebook", neverExpires: true });
    expect(page.expiresAt).toBeNull();
    expect(await (await metaExchange(sim, page.accessToken)).json()).not.toHaveProperty("expires_in");
  });

  it("gives a WhatsApp system-user token 60 days only with set_token_expires_in_60_days=true", async () => {
    const sim = await start();
    const { accessToken } = await sim.issue({ platform: "whatsapp" });
    expect(accessToken).toMatch(/^simwa_/);
    const without = (await (await metaExchange(sim, accessToken)).json()) as Record<string, unknown>;
    expect(without).not.toHaveProperty("expires_in");
    const withFlag = (await (await metaExchange(sim, accessToken, { set_token_expires_in_60_days: "true" })).json()) as Record<string, unknown>;
    expect(withFlag.expires_in).toBe(60 * DAY);
    expect((await sim.stats()).calls.whatsapp).toBe(2);
  });

  it("rejects bad app credentials with Graph codes 101 (app id) and 1 (secret)", async () => {
    const sim = await start();
    const { accessToken } = await sim.issue({ platform: "facebook" });
    const badId = await metaExchange(sim, accessToken, { client_id: "nope" });
    expect(badId.status).toBe(400);
    expect(await badId.json()).toMatchObject({ error: { code: 101, type: "OAuthException", fbtrace_id: expect.any(String) } });
    const badSecret = await metaExchange(sim, accessToken, { client_secret: "nope" });
    expect(await badSecret.json()).toMatchObject({ error: { code: 1, message: "Error validating client secret." } });
  });

  it("answers 190 with subcode 463 (expired), 460 (revoked) and 467 (unknown)", async () => {
    const sim = await start();
    const expired = await sim.issue({ platform: "facebook", accessExpiresInSeconds: -60 });
    const revoked = await sim.issue({ platform: "facebook" });
    expect(await sim.revoke(revoked.accessToken)).toBe(1);
    const subcode = async (token: string) => {
      const response = await metaExchange(sim, token);
      expect(response.status).toBe(400);
      expect(response.headers.get("www-authenticate")).toContain("invalid_token");
      const body = (await response.json()) as { error: { code: number; error_subcode: number } };
      expect(body.error.code).toBe(190);
      return body.error.error_subcode;
    };
    expect(await subcode(expired.accessToken)).toBe(463);
    expect(await subcode(revoked.accessToken)).toBe(460);
    expect(await subcode("simfb_never-issued")).toBe(467);
  });
});

describe("simulator: Instagram refresh", () => {
  it("refuses a token younger than 24 h with code 100, and refreshes an older one for 60 days", async () => {
    const sim = await start();
    const young = await sim.issue({ platform: "instagram" });
    const refused = await instagramRefresh(sim, young.accessToken);
    expect(refused.status).toBe(400);
    const error = ((await refused.json()) as { error: { code: number; message: string } }).error;
    expect(error.code).toBe(100);
    expect(error.message).toContain("at least 24 hours old");

    const old = await sim.issue({ platform: "instagram", issuedAt: twoDaysAgo() });
    expect(new Date(old.expiresAt!).getTime()).toBeCloseTo(Date.now() + 58 * DAY * 1000, -4);
    const ok = await instagramRefresh(sim, old.accessToken);
    expect(await ok.json()).toEqual({ access_token: expect.stringMatching(/^simig_/), token_type: "bearer", expires_in: 60 * DAY });
  });

  it("does not accept Facebook tokens, nor Instagram tokens at Meta's exchange", async () => {
    const sim = await start();
    const fb = await sim.issue({ platform: "facebook", issuedAt: twoDaysAgo() });
    const ig = await sim.issue({ platform: "instagram", issuedAt: twoDaysAgo() });
    expect(await (await instagramRefresh(sim, fb.accessToken)).json()).toMatchObject({ error: { code: 190 } });
    expect(await (await metaExchange(sim, ig.accessToken)).json()).toMatchObject({ error: { code: 190 } });
  });
});

describe("simulator: Threads refresh", () => {
  const graphError = async (response: Response) => ((await response.json()) as { error: { code: number; error_subcode?: number; message: string } }).error;

  it("refuses a token younger than 24 h with code 100, and refreshes an older one for 60 days", async () => {
    const sim = await start();
    const young = await sim.issue({ platform: "threads" });
    expect(young.accessToken).toMatch(/^simth_/);
    const refused = await threadsRefresh(sim, young.accessToken);
    expect(refused.status).toBe(400);
    expect(await graphError(refused)).toMatchObject({ code: 100, message: expect.stringContaining("at least 24 hours old") });

    const old = await sim.issue({ platform: "threads", issuedAt: twoDaysAgo() });
    expect(new Date(old.expiresAt!).getTime()).toBeCloseTo(Date.now() + 58 * DAY * 1000, -4);
    const ok = await threadsRefresh(sim, old.accessToken);
    const body = (await ok.json()) as { access_token: string };
    expect(body).toEqual({ access_token: expect.stringMatching(/^simth_/), token_type: "bearer", expires_in: 60 * DAY });
    // The old token is not revoked, and the new one is itself too young to refresh.
    expect((await threadsRefresh(sim, old.accessToken)).status).toBe(200);
    expect(await graphError(await threadsRefresh(sim, body.access_token))).toMatchObject({ code: 100 });
    expect((await sim.stats()).calls).toMatchObject({ threads: 4, instagram: 0 });
  });

  it("tells Threads from Instagram by grant_type at the shared path, and knows only its own tokens", async () => {
    const sim = await start();
    const th = await sim.issue({ platform: "threads", issuedAt: twoDaysAgo() });
    const ig = await sim.issue({ platform: "instagram", issuedAt: twoDaysAgo() });
    expect(await graphError(await threadsRefresh(sim, ig.accessToken))).toMatchObject({ code: 190 });
    expect(await graphError(await instagramRefresh(sim, th.accessToken))).toMatchObject({ code: 190 });
    expect(await graphError(await metaExchange(sim, th.accessToken))).toMatchObject({ code: 190 });
    // The versioned path answers too, as graph.threads.net serves both.
    const versioned = await fetch(`${sim.url}/v1.0/refresh_access_token?grant_type=th_refresh_token&access_token=${th.accessToken}`);
    expect(versioned.status).toBe(200);
    expect((await sim.stats()).calls).toMatchObject({ threads: 2, instagram: 1, facebook: 1 });
  });

  it("answers 190 with subcode 460 (revoked), 463 (expired) and 467 (unknown)", async () => {
    const sim = await start();
    const revoked = await sim.issue({ platform: "threads", issuedAt: twoDaysAgo() });
    const expired = await sim.issue({ platform: "threads", issuedAt: twoDaysAgo(), accessExpiresInSeconds: -60 });
    expect(await sim.revoke(revoked.accessToken)).toBe(1);
    expect(await graphError(await threadsRefresh(sim, revoked.accessToken))).toMatchObject({ code: 190, error_subcode: 460 });
    expect(await graphError(await threadsRefresh(sim, expired.accessToken))).toMatchObject({ code: 190, error_subcode: 463 });
    expect(await graphError(await threadsRefresh(sim, "simth_never-issued"))).toMatchObject({ code: 190, error_subcode: 467 });
  });

  it("throttles with a per-user Graph code and usage headers, and serves outages and HTML error pages, to Threads only", async () => {
    const sim = await start();
    const th = await sim.issue({ platform: "threads", issuedAt: twoDaysAgo() });
    const ig = await sim.issue({ platform: "instagram", issuedAt: twoDaysAgo() });
    await sim.inject({ kind: "throttle", platform: "threads", retryAfterSeconds: 7 });
    await sim.inject({ kind: "unavailable", platform: "threads" });
    await sim.inject({ kind: "html502", platform: "threads" });
    expect((await instagramRefresh(sim, ig.accessToken)).status).toBe(200);
    const throttled = await threadsRefresh(sim, th.accessToken);
    expect(throttled.headers.get("retry-after")).toBe("7");
    expect(throttled.headers.get("x-business-use-case-usage")).toContain("estimated_time_to_regain_access");
    expect(await graphError(throttled)).toMatchObject({ code: 613 });
    const outage = await threadsRefresh(sim, th.accessToken);
    expect(outage.status).toBe(500);
    expect(await outage.json()).toMatchObject({ error: { code: 2, is_transient: true } });
    const gateway = await threadsRefresh(sim, th.accessToken);
    expect(gateway.status).toBe(502);
    expect(await gateway.text()).toContain("<html>");
    expect((await threadsRefresh(sim, th.accessToken)).status).toBe(200);
    expect((await sim.stats()).calls).toMatchObject({ threads: 4, instagram: 1 });
  });

  it("is driven over the admin HTTP API: tokens minted, lifetime and the 24-hour rule configured", async () => {
    const sim = await start();
    const remote = connectSimulator(sim.url);
    expect((await remote.configure({ threads: { minAgeSeconds: 0, tokenLifetimeSeconds: 3600 } })).threads).toEqual({ minAgeSeconds: 0, tokenLifetimeSeconds: 3600 });
    const issued = await remote.issue({ platform: "threads" });
    expect(new Date(issued.expiresAt!).getTime()).toBeCloseTo(Date.now() + 3600_000, -4);
    expect(await (await threadsRefresh(sim, issued.accessToken)).json()).toMatchObject({ expires_in: 3600 });
    expect((await remote.stats()).callsForToken(issued.accessToken)).toBe(1);
  });
});

describe("simulator: TikTok refresh", () => {
  it("rotates the refresh token; a rotated-out one presented again is reuse and revokes the family", async () => {
    const sim = await start();
    const issued = await sim.issue({ platform: "tiktok" });
    expect(issued.refreshToken).toMatch(/^simtt_rt_/);
    const first = await tiktokRefresh(sim, issued.refreshToken!);
    expect(first.status).toBe(200);
    const rotated = (await first.json()) as Record<string, unknown>;
    expect(rotated).toEqual({
      access_token: expect.stringMatching(/^simtt_at_/),
      expires_in: DAY,
      open_id: expect.any(String),
      refresh_expires_in: 365 * DAY,
      refresh_token: expect.stringMatching(/^simtt_rt_/),
      scope: "user.info.basic,video.list",
      token_type: "Bearer",
    });
    const second = (await (await tiktokRefresh(sim, rotated.refresh_token as string)).json()) as Record<string, unknown>;
    expect(second.refresh_token).toEqual(expect.stringMatching(/^simtt_rt_/));

    const reuse = await tiktokRefresh(sim, issued.refreshToken!);
    expect(await reuse.json()).toMatchObject({ error: "invalid_grant", log_id: expect.any(String) });
    expect((await sim.stats()).reuseDetected).toBe(1);
    // The family is gone: even the newest refresh token stops working.
    const newest = await tiktokRefresh(sim, second.refresh_token as string);
    expect(newest.status).toBe(400);
    expect(await newest.json()).toMatchObject({ error: "invalid_grant" });
    expect((await sim.stats()).reuseDetected).toBe(1);
  });

  it("answers invalid_client with 401 and an expired refresh token with 400 invalid_grant", async () => {
    const sim = await start();
    const issued = await sim.issue({ platform: "tiktok", refreshExpiresInSeconds: -1 });
    const badClient = await tiktokRefresh(sim, issued.refreshToken!, { key: SIM_TIKTOK_CLIENT_KEY, secret: "wrong" });
    expect(badClient.status).toBe(401);
    expect(await badClient.json()).toMatchObject({ error: "invalid_client", error_description: expect.any(String) });
    const expired = await tiktokRefresh(sim, issued.refreshToken!);
    expect(expired.status).toBe(400);
    expect(await expired.json()).toMatchObject({ error: "invalid_grant" });
  });
});

describe("simulator: faults", () => {
  it("throttles Meta with code 4, usage headers in minutes and Retry-After", async () => {
    const sim = await start();
    const { accessToken } = await sim.issue({ platform: "facebook" });
    await sim.inject({ kind: "throttle", platform: "facebook", retryAfterSeconds: 5, regainAccessMinutes: 3 });
    const throttled = await metaExchange(sim, accessToken);
    expect(await throttled.json()).toMatchObject({ error: { code: 4, is_transient: true } });
    expect(throttled.headers.get("retry-after")).toBe("5");
    expect(JSON.parse(throttled.headers.get("x-app-usage")!)).toMatchObject({ call_count: 100 });
    const buc = JSON.parse(throttled.headers.get("x-business-use-case-usage")!) as Record<string, Array<Record<string, unknown>>>;
    expect(Object.values(buc)[0]![0]!.estimated_time_to_regain_access).toBe(3);
    expect((await metaExchange(sim, accessToken)).status).toBe(200);
  });

  it("throttles Instagram with code 80002 and TikTok with HTTP 429 rate_limit_exceeded", async () => {
    const sim = await start();
    const ig = await sim.issue({ platform: "instagram", issuedAt: twoDaysAgo() });
    const tt = await sim.issue({ platform: "tiktok" });
    await sim.inject({ kind: "throttle", count: 2, retryAfterSeconds: 7 });
    expect(await (await instagramRefresh(sim, ig.accessToken)).json()).toMatchObject({ error: { code: 80002 } });
    const limited = await tiktokRefresh(sim, tt.refreshToken!);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(await limited.json()).toMatchObject({ error: "rate_limit_exceeded" });
  });

  it("applies a fault to one platform only, for the next `count` calls", async () => {
    const sim = await start();
    const fb = await sim.issue({ platform: "facebook" });
    const tt = await sim.issue({ platform: "tiktok" });
    await sim.inject({ kind: "unavailable", platform: "tiktok", count: 2, status: 500 });
    expect((await metaExchange(sim, fb.accessToken)).status).toBe(200);
    const down = await tiktokRefresh(sim, tt.refreshToken!);
    expect(down.status).toBe(500);
    expect(await down.json()).toMatchObject({ error: "server_error" });
    expect(await (await tiktokRefresh(sim, tt.refreshToken!)).json()).toMatchObject({ error: "server_error" });
    expect((await tiktokRefresh(sim, tt.refreshToken!)).status).toBe(200);
  });

  it("answers outages as Meta does (500, code 2, is_transient) and as a gateway does (HTML 502)", async () => {
    const sim = await start();
    const { accessToken } = await sim.issue({ platform: "facebook" });
    await sim.inject({ kind: "unavailable" });
    await sim.inject({ kind: "html502" });
    const outage = await metaExchange(sim, accessToken);
    expect(outage.status).toBe(500);
    expect(await outage.json()).toMatchObject({ error: { code: 2, is_transient: true } });
    const gateway = await metaExchange(sim, accessToken);
    expect(gateway.status).toBe(502);
    expect(gateway.headers.get("content-type")).toContain("text/html");
    expect(await gateway.text()).toContain("<html>");
  });

  it("holds a timed-out request until the client gives up, and close() still returns at once", async () => {
    const sim = await start();
    const { accessToken } = await sim.issue({ platform: "facebook" });
    await sim.inject({ kind: "timeout" });
    const started = Date.now();
    await expect(
      fetch(`${sim.url}/v25.0/oauth/access_token?grant_type=fb_exchange_token&client_id=${SIM_META_APP_ID}&client_secret=${SIM_META_APP_SECRET}&fb_exchange_token=${accessToken}`, {
        signal: AbortSignal.timeout(200),
      }),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2000);
    await sim.inject({ kind: "timeout" });
    const hanging = metaExchange(sim, accessToken).catch((error: unknown) => error);
    // Wait for the request to arrive rather than for a fixed time: the machine may be busy.
    await expect.poll(async () => (await sim.stats()).inFlight, { timeout: 5000 }).toBe(1);
    const closing = Date.now();
    await sim.close();
    expect(Date.now() - closing).toBeLessThan(2000);
    expect(await hanging).toBeInstanceOf(Error);
  });
});

describe("simulator: control", () => {
  it("adds latency to platform endpoints only, and counts the most requests in flight at once", async () => {
    const sim = await start({ latencyMs: { tiktok: 150 } });
    const tokens = await Promise.all([1, 2, 3, 4].map(() => sim.issue({ platform: "tiktok" })));
    const started = Date.now();
    const answers = await Promise.all(tokens.map((t) => tiktokRefresh(sim, t.refreshToken!)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const stats = await sim.stats();
    expect(stats.maxConcurrent).toBe(4);
    expect(stats.calls).toEqual({ facebook: 0, instagram: 0, whatsapp: 0, tiktok: 4, threads: 0 });
    const adminStarted = Date.now();
    await fetch(`${sim.url}/_sim/stats`);
    expect(Date.now() - adminStarted).toBeLessThan(140);
  });

  it("is driven over its admin HTTP API from another process's point of view", async () => {
    const sim = await start();
    const remote = connectSimulator(sim.url);
    const issued = await remote.issue({ platform: "tiktok", accessExpiresInSeconds: 3600, issuedAt: twoDaysAgo() });
    expect(new Date(issued.expiresAt!).getTime()).toBeCloseTo(Date.now() + 3600_000, -4);
    expect(await remote.issuedTokens()).toEqual([issued.accessToken, issued.refreshToken]);

    await remote.inject({ kind: "throttle", platform: "tiktok", retryAfterSeconds: 1 });
    expect((await tiktokRefresh(sim, issued.refreshToken!)).status).toBe(429);
    const stats = await remote.stats();
    expect(stats.calls.tiktok).toBe(1);
    expect(stats.callsForToken(issued.refreshToken!)).toBe(1);

    expect((await remote.configure({ tiktok: { accessLifetimeSeconds: 7200 } })).tiktok.accessLifetimeSeconds).toBe(7200);
    expect(await (await tiktokRefresh(sim, issued.refreshToken!)).json()).toMatchObject({ expires_in: 7200 });
    expect(await remote.revoke(issued.accessToken)).toBeGreaterThanOrEqual(2);

    await remote.reset();
    expect(await remote.issuedTokens()).toEqual([]);
    expect((await remote.stats()).totalCalls).toBe(0);
    expect((await remote.config()).tiktok.accessLifetimeSeconds).toBe(DAY);
    await expect(remote.issue({ platform: "myspace" as never })).rejects.toThrow(/platform/);
  });

  it("records every token it mints, including those from refreshes", async () => {
    const sim = await start();
    const fb = await sim.issue({ platform: "facebook" });
    const refreshed = (await (await metaExchange(sim, fb.accessToken)).json()) as { access_token: string };
    expect(await sim.issuedTokens()).toEqual([fb.accessToken, refreshed.access_token]);
  });

  it("answers unknown paths with 404", async () => {
    const sim = await start();
    expect((await fetch(`${sim.url}/v2/user/info/`)).status).toBe(404);
    expect((await fetch(`${sim.url}/_sim/nothing`)).status).toBe(404);
  });
});
