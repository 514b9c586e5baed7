import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { RefreshError, type ErrorCode } from "../src/core/errors";
import { BUILT_IN_ENDPOINTS, BUILT_IN_MODULES, builtInCapabilities, createProviders, DEFAULT_ENDPOINTS } from "../src/core/providers";
import { PLATFORMS } from "../src/core/types";
import { retryAfterMs } from "../src/core/providers/classify";
import { graphFailure } from "../src/core/providers/facebook/errors";
import { tiktokFailure } from "../src/core/providers/tiktok/errors";
import type { PlatformAnswer } from "../src/core/providers/http";
import type { AppCredentials, RefreshRequest } from "../src/core/providers/types";
import type { Channel, TokenSet } from "../src/core/types";
import {
  refrescaEnvFor,
  refrescaSettingsFor,
  SIM_META_APP_ID,
  SIM_META_APP_SECRET,
  SIM_TIKTOK_CLIENT_KEY,
  SIM_TIKTOK_CLIENT_SECRET,
  startSimulator,
  type IssuedTokenSet,
  type SimPlatform,
  type Simulator,
  type SimulatorOptions,
} from "../src/simulator";

const DAY_MS = 86_400_000;
const APPS: AppCredentials = {
  meta: { appId: SIM_META_APP_ID, appSecret: SIM_META_APP_SECRET },
  tiktok: { clientKey: SIM_TIKTOK_CLIENT_KEY, clientSecret: SIM_TIKTOK_CLIENT_SECRET },
};
const running: Simulator[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.close()));
});

async function start(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator(options);
  running.push(sim);
  return sim;
}

function providersFor(sim: Simulator, overrides: { apps?: AppCredentials; timeoutMs?: number } = {}) {
  return createProviders({
    ...DEFAULT_ENDPOINTS,
    ...refrescaSettingsFor(sim.url).endpoints,
    apps: overrides.apps ?? APPS,
    timeoutMs: overrides.timeoutMs ?? 5000,
  });
}

interface ProviderCase {
  name: string;
  channel: Pick<Channel, "type" | "meta">;
  /** Which simulated platform mints this channel's tokens. */
  issues: SimPlatform;
  /** The access token lifetime the platform grants on refresh. */
  lifetimeMs: number;
  /** Which app credentials the refresh needs. */
  app: keyof AppCredentials | null;
}

const CASES: ProviderCase[] = [
  { name: "facebook", channel: { type: "facebook", meta: {} }, issues: "facebook", lifetimeMs: 60 * DAY_MS, app: "meta" },
  { name: "whatsapp", channel: { type: "whatsapp", meta: {} }, issues: "whatsapp", lifetimeMs: 60 * DAY_MS, app: "meta" },
  { name: "instagram (Instagram Login)", channel: { type: "instagram", meta: {} }, issues: "instagram", lifetimeMs: 60 * DAY_MS, app: null },
  {
    name: "instagram (via Facebook Login)",
    channel: { type: "instagram", meta: { connectedVia: "facebook" } },
    issues: "facebook",
    lifetimeMs: 60 * DAY_MS,
    app: "meta",
  },
  { name: "tiktok", channel: { type: "tiktok", meta: {} }, issues: "tiktok", lifetimeMs: DAY_MS, app: "tiktok" },
  { name: "threads", channel: { type: "threads", meta: {} }, issues: "threads", lifetimeMs: 60 * DAY_MS, app: null },
];

/** What a provider presents to the platform: the refresh token for TikTok, the long-lived access token elsewhere. */
const presented = (issued: IssuedTokenSet) => issued.refreshToken ?? issued.accessToken;

function requestFor(c: ProviderCase, issued: IssuedTokenSet, overrides: Partial<RefreshRequest["channel"]> = {}): RefreshRequest {
  return {
    channel: { id: "ch_test", ...c.channel, expiresAt: issued.expiresAt ? new Date(issued.expiresAt) : null, ...overrides },
    credentials: { accessToken: issued.accessToken, ...(issued.refreshToken && { refreshToken: issued.refreshToken }) },
    now: new Date(),
  };
}

/** Issues a token two days old, so that Instagram's and Threads' 24 h rule does not get in the way. */
function issueFor(sim: Simulator, c: ProviderCase, extra: { accessExpiresInSeconds?: number; refreshExpiresInSeconds?: number } = {}) {
  return sim.issue({ platform: c.issues, issuedAt: new Date(Date.now() - 2 * DAY_MS), ...extra });
}

/** Awaits a refusal, checks its code, and checks that no token or secret leaked into anything printable. */
async function expectRefreshError(sim: Simulator, promise: Promise<unknown>, code: ErrorCode, moreSecrets: string[] = []) {
  const error = await promise.then(
    () => expect.fail(`expected ${code}, but the refresh succeeded`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RefreshError);
  const refreshError = error as RefreshError;
  expect(refreshError.code, refreshError.message).toBe(code);
  const secrets = [...(await sim.issuedTokens()), SIM_META_APP_SECRET, SIM_TIKTOK_CLIENT_SECRET, ...moreSecrets];
  const printed = [
    refreshError.message,
    JSON.stringify(refreshError),
    String(refreshError.stack),
    JSON.stringify(refreshError.cause ?? null),
    inspect(refreshError, { depth: 10 }),
  ].join("\n");
  for (const secret of secrets.filter(Boolean)) expect(printed).not.toContain(secret);
  return refreshError;
}

const within = (actual: Date | null | undefined, expectedMs: number, toleranceMs = 5000) => {
  expect(actual).toBeInstanceOf(Date);
  expect(Math.abs(actual!.getTime() - expectedMs)).toBeLessThanOrEqual(toleranceMs);
};

describe.each(CASES)("provider conformance: $name", (c) => {
  it("maps a successful refresh to a TokenSet with the platform's expiry", async () => {
    const sim = await start();
    const issued = await issueFor(sim, c);
    const provider = providersFor(sim).forChannel(c.channel);
    expect(provider.platform).toBe(c.channel.type);
    const before = Date.now();
    const tokens: TokenSet = await provider.refresh(requestFor(c, issued));
    expect(tokens.accessToken).not.toBe(issued.accessToken);
    expect(await sim.issuedTokens()).toContain(tokens.accessToken);
    within(tokens.expiresAt, before + c.lifetimeMs);
    if (c.issues === "tiktok") {
      expect(tokens.refreshToken).toMatch(/^simtt_rt_/);
      expect(tokens.refreshToken).not.toBe(issued.refreshToken);
      within(tokens.refreshTokenExpiresAt, before + 365 * DAY_MS);
      expect(tokens.details).toEqual({ scope: "user.info.basic,video.list", open_id: expect.any(String), token_type: "Bearer" });
    } else {
      expect(tokens.refreshToken).toBeUndefined();
    }
    expect((await sim.stats()).callsForToken(presented(issued))).toBe(1);
  });

  it("reports a revoked token as INVALID_CREDENTIALS", async () => {
    const sim = await start();
    const issued = await issueFor(sim, c);
    await sim.revoke(presented(issued));
    await expectRefreshError(sim, providersFor(sim).forChannel(c.channel).refresh(requestFor(c, issued)), "INVALID_CREDENTIALS");
  });

  it("reports an expired token as INVALID_CREDENTIALS", async () => {
    const sim = await start();
    const issued = await issueFor(sim, c, c.issues === "tiktok" ? { refreshExpiresInSeconds: -60 } : { accessExpiresInSeconds: -60 });
    await expectRefreshError(sim, providersFor(sim).forChannel(c.channel).refresh(requestFor(c, issued)), "INVALID_CREDENTIALS");
  });

  it("reports a token the platform never issued as INVALID_CREDENTIALS", async () => {
    const sim = await start();
    const issued = await issueFor(sim, c);
    const forged = { ...issued, accessToken: `${issued.accessToken}x`, ...(issued.refreshToken && { refreshToken: `${issued.refreshToken}x` }) };
    const error = await expectRefreshError(sim, providersFor(sim).forChannel(c.channel).refresh(requestFor(c, forged)),
      "INVALID_CREDENTIALS", [forged.accessToken, forged.refreshToken ?? ""]);
    expect(error.httpStatus).toBe(400);
  });

  it("waits as Retry-After says when throttled (RATE_LIMITED, 5 s)", async () => {
    const sim = await start();
    const issued = await issueFor(sim, c);
    await sim.inject({ kind: "throttle", platform: c.issues, retryAfterSeconds: 5 });
    const error = await expectRefreshError(sim, providersFor(sim).forChannel(c.channel).refresh(requestFor(c, issued)), "RATE_LIMITED");
    expect(error.retryAfterMs).toBe(5000);
    expect(error.httpStatus).toBeGreaterThanOrEqual(400);
    expect(error.platformCode).toBeDefined();
  });

  it("reports an outage (5xx with the platform's error body) as PLATFORM_UNAVAILABLE", async () => {
    const sim = await start();
    const issued = await issueFor(sim, c);
    await sim.inject({ kind: "unavailable", platform: c.issues });
    const error = await expectRefreshError(sim, providersFor(sim).forChannel(c.channel).refresh(requestFor(c, issued)), "PLATFORM_UNAVAILABLE");
    expect(error.httpStatus).toBeGreaterThanOrEqual(500);
  });

  it("reports an HTML 502 as PLATFORM_UNAVAILABLE", async () => {
    const sim = await start();
    const issued = await issueFor(sim, c);
    await sim.inject({ kind: "html502", platform: c.issues });
    const error = await expectRefreshError(sim, providersFor(sim).forChannel(c.channel).refresh(requestFor(c, issued)), "PLATFORM_UNAVAILABLE");
    expect(error.httpStatus).toBe(502);
  });

  it("gives up after timeoutMs with PLATFORM_UNAVAILABLE", async () => {
    const sim = await start();
    const issued = await issueFor(sim, c);
    await sim.inject({ kind: "timeout", platform: c.issues });
    const started = Date.now();
    const error = await expectRefreshError(sim, providersFor(sim, { timeoutMs: 250 }).forChannel(c.channel).refresh(requestFor(c, issued)),
      "PLATFORM_UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(2500);
    expect(error.message).toContain("250 ms");
  });

  it("reports an unreachable platform as PLATFORM_UNAVAILABLE", async () => {
    const sim = await start();
    const issued = await issueFor(sim, c);
    const providers = providersFor(sim);
    await sim.close();
    const error = await expectRefreshError(sim, providers.forChannel(c.channel).refresh(requestFor(c, issued)), "PLATFORM_UNAVAILABLE");
    expect(error.details?.networkCode).toBe("ECONNREFUSED");
  });

  it("sends through an injected fetch when one is given", async () => {
    const sim = await start();
    const issued = await issueFor(sim, c);
    const seen: string[] = [];
    const providers = createProviders({
      ...DEFAULT_ENDPOINTS,
      ...refrescaSettingsFor(sim.url).endpoints,
      apps: APPS,
      timeoutMs: 5000,
      fetch: (input, init) => {
        seen.push(new URL(String(input)).pathname);
        return fetch(input, init);
      },
    });
    const tokens = await providers.forChannel(c.channel).refresh(requestFor(c, issued));
    expect(tokens.accessToken).not.toBe(issued.accessToken);
    expect(seen).toHaveLength(1);
    expect((await sim.stats()).totalCalls).toBe(1);
  });

  it("reports a 2xx whose body fails validation as INVALID_RESPONSE", async () => {
    const sim = await start();
    const issued = await issueFor(sim, c);
    await sim.inject({ kind: "malformed", platform: c.issues });
    const error = await expectRefreshError(sim, providersFor(sim).forChannel(c.channel).refresh(requestFor(c, issued)), "INVALID_RESPONSE");
    expect(error.details?.fields).toContain("access_token");
  });

  if (c.app) {
    it("refuses without its app credentials (MISSING_APP_CREDENTIALS) and makes no call", async () => {
      const sim = await start();
      const issued = await issueFor(sim, c);
      const apps: AppCredentials = { ...APPS, [c.app!]: undefined };
      await expectRefreshError(sim, providersFor(sim, { apps }).forChannel(c.channel).refresh(requestFor(c, issued)), "MISSING_APP_CREDENTIALS");
      expect((await sim.stats()).totalCalls).toBe(0);
    });

    it("reports rejected app credentials as APP_CREDENTIALS_REJECTED naming the app credentials", async () => {
      const sim = await start();
      const issued = await issueFor(sim, c);
      const wrong = "wrong-app-secret-1234";
      const apps: AppCredentials =
        c.app === "meta"
          ? { meta: { appId: SIM_META_APP_ID, appSecret: wrong } }
          : { tiktok: { clientKey: SIM_TIKTOK_CLIENT_KEY, clientSecret: wrong } };
      const error = await expectRefreshError(sim, providersFor(sim, { apps }).forChannel(c.channel).refresh(requestFor(c, issued)),
        "APP_CREDENTIALS_REJECTED", [wrong]);
      expect(error.message).toMatch(/app credentials/);
    });
  } else {
    it("needs no app credentials", async () => {
      const sim = await start();
      const issued = await issueFor(sim, c);
      const tokens = await providersFor(sim, { apps: {} }).forChannel(c.channel).refresh(requestFor(c, issued));
      expect(tokens.accessToken).toMatch(/^sim/);
    });
  }
});

describe("provider: TikTok", () => {
  const tiktok: ProviderCase = CASES.find((c) => c.name === "tiktok")!;

  it("stores the rotated refresh token; the old one then counts as reuse and the family is revoked", async () => {
    const sim = await start();
    const provider = providersFor(sim).forChannel(tiktok.channel);
    const issued = await sim.issue({ platform: "tiktok" });
    const first = await provider.refresh(requestFor(tiktok, issued));
    const second = await provider.refresh({
      ...requestFor(tiktok, issued),
      credentials: { accessToken: first.accessToken, refreshToken: first.refreshToken! },
    });
    expect(second.refreshToken).not.toBe(first.refreshToken);

    await expectRefreshError(sim, provider.refresh(requestFor(tiktok, issued)), "INVALID_CREDENTIALS");
    expect((await sim.stats()).reuseDetected).toBe(1);
    const newest = { ...requestFor(tiktok, issued), credentials: { accessToken: second.accessToken, refreshToken: second.refreshToken! } };
    await expectRefreshError(sim, provider.refresh(newest), "INVALID_CREDENTIALS");
  });

  it("reads an error sent with HTTP 200 (reuse answers 200 invalid_grant)", async () => {
    const sim = await start();
    const provider = providersFor(sim).forChannel(tiktok.channel);
    const issued = await sim.issue({ platform: "tiktok" });
    await provider.refresh(requestFor(tiktok, issued));
    const error = await expectRefreshError(sim, provider.refresh(requestFor(tiktok, issued)), "INVALID_CREDENTIALS");
    expect(error.httpStatus).toBe(200);
    expect(error.platformCode).toBe("invalid_grant");
    expect(error.details?.log_id).toEqual(expect.any(String));
  });

  it("refuses a channel without a refresh token (NO_REFRESH_TOKEN) without calling TikTok", async () => {
    const sim = await start();
    const issued = await sim.issue({ platform: "tiktok" });
    const request = requestFor(tiktok, issued);
    request.credentials = { accessToken: issued.accessToken };
    await expectRefreshError(sim, providersFor(sim).forChannel(tiktok.channel).refresh(request), "NO_REFRESH_TOKEN");
    expect((await sim.stats()).totalCalls).toBe(0);
  });

  it("leaves retryAfterMs unset when a 429 carries no Retry-After", async () => {
    const sim = await start();
    const issued = await sim.issue({ platform: "tiktok" });
    await sim.inject({ kind: "throttle" });
    const error = await expectRefreshError(sim, providersFor(sim).forChannel(tiktok.channel).refresh(requestFor(tiktok, issued)), "RATE_LIMITED");
    expect(error.retryAfterMs).toBeUndefined();
  });
});

describe("provider: the platform connection", () => {
  const tiktok: ProviderCase = CASES.find((c) => c.name === "tiktok")!;

  /** A server that answers every call with `respond`, on a free local port. */
  async function platform(respond: (res: ServerResponse) => void): Promise<string> {
    const server = createServer((_req, res) => respond(res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  const refreshAt = (url: string) =>
    createProviders({ ...DEFAULT_ENDPOINTS, tiktokApiUrl: url, apps: APPS, timeoutMs: 2000 })
      .forChannel(tiktok.channel)
      .refresh({ channel: { id: "c", type: "tiktok", meta: {}, expiresAt: null }, credentials: { accessToken: "a-token", refreshToken: "r-token" }, now: new Date() });

  it("cuts off an answer too large to be a token answer as PLATFORM_UNAVAILABLE", async () => {
    const url = await platform((res) => res.end("x".repeat(3 * 1024 * 1024)));
    await expect(refreshAt(url)).rejects.toMatchObject({ code: "PLATFORM_UNAVAILABLE" });
  });

  it("reports a connection cut in the middle of the answer as PLATFORM_UNAVAILABLE", async () => {
    const url = await platform((res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "500" });
      res.write('{"access_token":"half');
      setTimeout(() => res.destroy(), 20);
    });
    // Not the deadline's message: the cut itself ends the call.
    await expect(refreshAt(url)).rejects.toMatchObject({ code: "PLATFORM_UNAVAILABLE", message: expect.stringContaining("could not be reached") });
  });
});

describe("provider: Meta", () => {
  const facebook: ProviderCase = CASES.find((c) => c.name === "facebook")!;

  it("waits as X-Business-Use-Case-Usage says (minutes) when there is no Retry-After", async () => {
    const sim = await start();
    const issued = await issueFor(sim, facebook);
    await sim.inject({ kind: "throttle", regainAccessMinutes: 3 });
    const error = await expectRefreshError(sim, providersFor(sim).forChannel(facebook.channel).refresh(requestFor(facebook, issued)), "RATE_LIMITED");
    expect(error.retryAfterMs).toBe(180_000);
    expect(error.platformCode).toBe(4);
  });

  it("with extends: false, returns an expiry no later than the old one", async () => {
    const sim = await start({ meta: { extends: false } });
    const issued = await sim.issue({ platform: "facebook", issuedAt: new Date(Date.now() - 10 * DAY_MS) });
    const old = new Date(issued.expiresAt!);
    const tokens = await providersFor(sim).forChannel(facebook.channel).refresh(requestFor(facebook, issued));
    expect(tokens.expiresAt!.getTime()).toBeLessThanOrEqual(old.getTime());
    within(tokens.expiresAt, old.getTime(), 2000);
  });

  it("without expires_in keeps the channel's current expiry (not extended)", async () => {
    const sim = await start({ meta: { omitExpiresIn: true } });
    const issued = await issueFor(sim, facebook);
    const request = requestFor(facebook, issued);
    const tokens = await providersFor(sim).forChannel(facebook.channel).refresh(request);
    expect(tokens.expiresAt).toEqual(request.channel.expiresAt);
  });

  it("keeps a never-expiring Page token never-expiring", async () => {
    const sim = await start();
    const issued = await sim.issue({ platform: "facebook", neverExpires: true });
    const tokens = await providersFor(sim).forChannel(facebook.channel).refresh(requestFor(facebook, issued));
    expect(tokens.expiresAt).toBeNull();
  });

  it("WhatsApp sends set_token_expires_in_60_days (without it the system-user token would not expire)", async () => {
    const sim = await start();
    const whatsapp = CASES.find((c) => c.name === "whatsapp")!;
    const providers = providersFor(sim);
    const issued = await sim.issue({ platform: "whatsapp", accessExpiresInSeconds: 3600 });
    // The Facebook provider omits the flag: the simulator then answers without expires_in.
    const plain = await providers.forChannel(facebook.channel).refresh(requestFor(whatsapp, issued));
    expect(plain.expiresAt).toEqual(new Date(issued.expiresAt!));
    const flagged = await providers.forChannel(whatsapp.channel).refresh(requestFor(whatsapp, issued));
    within(flagged.expiresAt, Date.now() + 60 * DAY_MS);
  });

  it("exchanges the stored refresh token when there is one, and hands back the new one as the refresh token", async () => {
    const sim = await start();
    const longLived = await issueFor(sim, facebook);
    const shortLived = await sim.issue({ platform: "facebook", accessExpiresInSeconds: 3600 });
    const request = requestFor(facebook, shortLived);
    request.credentials = { accessToken: shortLived.accessToken, refreshToken: longLived.accessToken };
    const tokens = await providersFor(sim).forChannel(facebook.channel).refresh(request);
    expect((await sim.stats()).callsForToken(longLived.accessToken)).toBe(1);
    expect((await sim.stats()).callsForToken(shortLived.accessToken)).toBe(0);
    expect(tokens.refreshToken).toBe(tokens.accessToken);
    expect(tokens.refreshTokenExpiresAt).toEqual(tokens.expiresAt);
  });

  it("fails only the platform whose app credentials are missing", async () => {
    const sim = await start();
    const tiktok = CASES.find((c) => c.name === "tiktok")!;
    const fb = await issueFor(sim, facebook);
    const tt = await issueFor(sim, tiktok);
    const onlyTikTok = providersFor(sim, { apps: { tiktok: APPS.tiktok! } });
    await expectRefreshError(sim, onlyTikTok.forChannel(facebook.channel).refresh(requestFor(facebook, fb)), "MISSING_APP_CREDENTIALS");
    expect((await onlyTikTok.forChannel(tiktok.channel).refresh(requestFor(tiktok, tt))).refreshToken).toBeDefined();
  });
});

// Instagram Login and Threads refresh a long-lived token with itself and refuse one younger than 24 hours.
describe.each(CASES.filter((c) => c.name === "instagram (Instagram Login)" || c.name === "threads"))("provider: $name 24 h rule", (c) => {
  it("refuses a token with more than 59 days left (younger than 24 h) as TOO_EARLY without a call", async () => {
    const sim = await start();
    const issued = await sim.issue({ platform: c.issues });
    const error = await expectRefreshError(sim, providersFor(sim).forChannel(c.channel).refresh(requestFor(c, issued)), "TOO_EARLY");
    expect(error.retryAfterMs).toBeGreaterThan(23 * 3600_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(24 * 3600_000);
    expect(error.message).toMatch(/only refreshes tokens that are at least 24 hours old/);
    expect((await sim.stats()).totalCalls).toBe(0);
  });

  it("maps the platform's own refusal of a young token to TOO_EARLY", async () => {
    const sim = await start();
    const issued = await sim.issue({ platform: c.issues });
    // The stored expiry claims an older token, so the refusal must come from the platform.
    const request = requestFor(c, issued, { expiresAt: new Date(Date.now() + 30 * DAY_MS) });
    const error = await expectRefreshError(sim, providersFor(sim).forChannel(c.channel).refresh(request), "TOO_EARLY");
    expect(error.platformCode).toBe(100);
    expect((await sim.stats()).totalCalls).toBe(1);
  });

  it("refreshes the long-lived token kept as the refresh token, and hands the new one back as the refresh token", async () => {
    const sim = await start();
    const longLived = await issueFor(sim, c);
    const request = requestFor(c, longLived);
    request.credentials = { accessToken: "a-short-lived-token", refreshToken: longLived.accessToken };
    const tokens = await providersFor(sim).forChannel(c.channel).refresh(request);
    expect((await sim.stats()).callsForToken(longLived.accessToken)).toBe(1);
    expect(tokens.refreshToken).toBe(tokens.accessToken);
    expect(tokens.refreshTokenExpiresAt).toEqual(tokens.expiresAt);
    expect(tokens.details).toEqual({ token_type: "bearer" });
  });
});

describe("provider: Threads", () => {
  const threads: ProviderCase = CASES.find((c) => c.name === "threads")!;

  it("calls the Threads endpoint, not Instagram's: the grant is th_refresh_token, the host THREADS_GRAPH_URL", async () => {
    const sim = await start();
    const issued = await issueFor(sim, threads);
    const seen: URL[] = [];
    const providers = createProviders({
      ...DEFAULT_ENDPOINTS,
      // Only Threads points at the simulator: a call anywhere else would fail.
      threadsGraphUrl: `${sim.url}/`,
      apps: {},
      timeoutMs: 5000,
      fetch: (input, init) => (seen.push(new URL(String(input))), fetch(input, init)),
    });
    expect(providers.capabilities("threads")).toMatchObject({ displayName: "Threads", minTokenAgeMs: DAY_MS, refreshesWith: "accessToken" });
    await providers.forChannel(threads.channel).refresh(requestFor(threads, issued));
    expect(seen.map((url) => [url.pathname, url.searchParams.get("grant_type")])).toEqual([["/refresh_access_token", "th_refresh_token"]]);
    expect((await sim.stats()).calls).toMatchObject({ threads: 1, instagram: 0 });
  });

  it("reports an answer without expires_in as INVALID_RESPONSE, naming the field and not the token", async () => {
    const url = await new Promise<string>((resolve) => {
      const server = createServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ access_token: "THREADS-NEW-TOKEN-1234", token_type: "bearer" }));
      });
      server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
      answering.push(server);
    });
    const providers = createProviders({ ...DEFAULT_ENDPOINTS, threadsGraphUrl: url, apps: {}, timeoutMs: 2000 });
    const request: RefreshRequest = {
      channel: { id: "c", type: "threads", meta: {}, expiresAt: new Date(Date.now() + 30 * DAY_MS) },
      credentials: { accessToken: "THREADS-OLD-TOKEN-5678" },
      now: new Date(),
    };
    const error = await providers.forChannel(threads.channel).refresh(request).then(() => expect.fail("accepted"), (e: unknown) => e as RefreshError);
    expect(error).toMatchObject({ code: "INVALID_RESPONSE", details: { fields: "expires_in" } });
    const printed = [error.message, JSON.stringify(error), JSON.stringify(error.cause ?? null), inspect(error, { depth: 10 })].join("\n");
    expect(printed).not.toContain("THREADS-NEW-TOKEN-1234");
    expect(printed).not.toContain("THREADS-OLD-TOKEN-5678");
  });

  const answering: Server[] = [];
  afterEach(async () => {
    for (const server of answering.splice(0)) await new Promise((resolve) => server.close(resolve));
  });
});

describe("the registry: everything about a platform derives from its folder", () => {
  it("pairs each registered platform with its module, in registration order", () => {
    expect(PLATFORMS).toEqual(["instagram", "facebook", "whatsapp", "tiktok", "threads"]);
    expect(BUILT_IN_MODULES.map((module) => module.capabilities.id)).toEqual([...PLATFORMS]);
    for (const module of BUILT_IN_MODULES) expect(module.capabilities).toBe(builtInCapabilities(module.capabilities.id));
  });

  it("derives the default endpoints and the simulator's settings from the endpoints each platform declares", () => {
    expect(DEFAULT_ENDPOINTS).toEqual({
      metaGraphUrl: "https://graph.facebook.com",
      metaGraphVersion: "v25.0",
      instagramGraphUrl: "https://graph.instagram.com",
      tiktokApiUrl: "https://open.tiktokapis.com",
      threadsGraphUrl: "https://graph.threads.net",
    });
    // Meta's Graph is declared by each of its platforms, and listed once.
    expect(new Set(BUILT_IN_ENDPOINTS.map((declared) => declared.option)).size).toBe(BUILT_IN_ENDPOINTS.length);
    const url = "http://127.0.0.1:4010";
    expect(refrescaSettingsFor(url).endpoints).toEqual({ metaGraphUrl: url, instagramGraphUrl: url, tiktokApiUrl: url, threadsGraphUrl: url });
    expect(refrescaEnvFor(url)).toMatchObject({ META_GRAPH_URL: url, INSTAGRAM_GRAPH_URL: url, TIKTOK_API_URL: url, THREADS_GRAPH_URL: url });
    expect(refrescaEnvFor(url)).not.toHaveProperty("META_GRAPH_VERSION");
  });
});

describe("classify: platform failures to codes", () => {
  const answer = (status: number, json: unknown, headers: Record<string, string> = {}): PlatformAnswer => ({
    status,
    headers: new Headers(headers),
    text: JSON.stringify(json),
    json,
  });
  const meta = { platform: "facebook" as const, capabilities: builtInCapabilities("facebook")!, secrets: ["EAAsecret-token"] };

  it("dispatches Graph errors on code, not HTTP status", () => {
    expect(graphFailure(answer(200, { error: { code: 190, message: "x" } }), meta).code).toBe("INVALID_CREDENTIALS");
    expect(graphFailure(answer(400, { error: { code: 17, is_transient: true } }), meta).code).toBe("RATE_LIMITED");
    expect(graphFailure(answer(400, { error: { code: 80004 } }), meta).code).toBe("RATE_LIMITED");
    expect(graphFailure(answer(400, { error: { code: 1, message: "An unknown error occurred" } }), meta).code).toBe("PLATFORM_UNAVAILABLE");
    expect(graphFailure(answer(400, { error: { code: 2 } }), meta).code).toBe("PLATFORM_UNAVAILABLE");
    expect(graphFailure(answer(400, { error: { code: 9999, is_transient: true } }), meta).code).toBe("PLATFORM_UNAVAILABLE");
    expect(graphFailure(answer(400, { error: { code: 101, message: "Invalid application ID" } }), meta).code).toBe("APP_CREDENTIALS_REJECTED");
    expect(graphFailure(answer(400, { error: { code: 9999 } }), meta).code).toBe("INVALID_RESPONSE");
    expect(graphFailure(answer(503, "down"), meta).code).toBe("PLATFORM_UNAVAILABLE");
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(retryAfterMs(new Headers({ "retry-after": "5" }), now)).toBe(5000);
    expect(retryAfterMs(new Headers({ "retry-after": "Wed, 01 Jan 2025 00:00:30 GMT" }), now)).toBe(30_000);
    expect(retryAfterMs(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
    // The IETF RateLimit headers of gateways and rate-limit middleware, when there is no Retry-After.
    expect(retryAfterMs(new Headers({ "ratelimit-reset": "12" }), now)).toBe(12_000);
    expect(retryAfterMs(new Headers({ ratelimit: '"default";r=0;t=42' }), now)).toBe(42_000);
    expect(retryAfterMs(new Headers({ "retry-after": "3", "ratelimit-reset": "12" }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ "ratelimit-reset": "later" }), now)).toBeUndefined();
  });

  it("redacts tokens the platform echoes back", () => {
    const error = graphFailure(answer(400, { error: { code: 190, message: "Malformed access token EAAsecret-token" } }), meta);
    expect(JSON.stringify(error)).not.toContain("EAAsecret-token");
    expect(JSON.stringify(error.cause)).not.toContain("EAAsecret-token");
    expect(error.details?.platformMessage).toContain("[redacted]");
  });

  it("reads TikTok errors whatever the status", () => {
    const tiktok = { platform: "tiktok" as const, capabilities: builtInCapabilities("tiktok")!, secrets: [] };
    expect(tiktokFailure(answer(200, { error: "invalid_grant", log_id: "1" }), tiktok).code).toBe("INVALID_CREDENTIALS");
    expect(tiktokFailure(answer(200, { error: "temporarily_unavailable" }), tiktok).code).toBe("PLATFORM_UNAVAILABLE");
    expect(tiktokFailure(answer(400, { error: "invalid_request" }), tiktok).code).toBe("INTERNAL");
    expect(tiktokFailure(answer(429, { error: { code: "rate_limit_exceeded", message: "slow down" } }, { "retry-after": "2" }), tiktok))
      .toMatchObject({ code: "RATE_LIMITED", retryAfterMs: 2000 });
  });
});
