import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRefrescaApi } from "../src/api";
import { OAUTH2_PRESETS, type OAuth2ProviderInput } from "../src/core/providers/oauth2";
import { PLATFORMS, type BuiltInPlatform } from "../src/core/types";
import { builtInCapabilities } from "../src/core/providers";
import { SIM_META_APP_SECRET, SIM_TIKTOK_CLIENT_SECRET, type OAuth2SimProvider } from "../src/simulator";
import { startHarness, type Harness } from "./support/harness";

// The conformance suite every provider passes, built-in or configured: each case runs through createRefresca against
// the simulator over real HTTP, with real PostgreSQL and Redis, so "flagged" means the stored channel needs_reauth.

interface Channel {
  id: string;
  tenantId: string;
  accessToken: string;
  refreshToken?: string;
}

/** What the suite needs to drive one provider through the simulator. */
interface Subject {
  name: string;
  /** The 24-hour rule: a refresh right after a refresh is refused. */
  minTokenAge: boolean;
  /** Served by the simulator's generic OAuth 2.0 endpoint (a configured provider or a preset). */
  generic: boolean;
  /** Whether each answer carries a new refresh token that must be stored (the old one stops working). */
  rotates: boolean;
  setup: Parameters<typeof startHarness>[0];
  add(h: Harness): Promise<Channel>;
  /** Makes the platform reject this channel's grant. */
  revoke(h: Harness, channel: Channel): Promise<void>;
  /** Makes the platform reject the app's credentials; the returned function undoes it. undefined: not applicable. */
  rejectApp?: (h: Harness) => Promise<() => Promise<void>>;
  inject(h: Harness, kind: "throttle" | "unavailable" | "html502", retryAfterSeconds?: number): Promise<void>;
  /** Leaves expires_in out of answers, and what the stored expiry must then be. undefined: not applicable. */
  omitExpiresIn?: (h: Harness) => Promise<{ undo(): Promise<void>; expect(before: Date | null, refreshedAt: number): Date | "unchanged" }>;
}

const MINUTE = 60_000;

function builtIn(platform: BuiltInPlatform): Subject {
  // Refreshed through Meta's exchange with the Meta app (Instagram Login and Threads refresh with the token alone).
  const isMeta = platform === "facebook" || platform === "whatsapp";
  const subject: Subject = {
    name: platform,
    minTokenAge: builtInCapabilities(platform)?.minTokenAgeMs !== undefined,
    generic: false,
    rotates: builtInCapabilities(platform)?.rotatesRefreshToken === true,
    setup: {},
    async add(h) {
      const tenantId = h.tenant();
      return { tenantId, ...(await h.addChannel({ tenantId, platform, expiresInSeconds: 1800 })) };
    },
    async revoke(h, channel) {
      await h.simulator.revoke(channel.refreshToken ?? channel.accessToken);
    },
    async inject(h, kind, retryAfterSeconds) {
      // Graph code 17 (a user's limit): code 4 would throttle the whole Meta app for the rest of the suite.
      await h.simulator.inject({ kind, platform, ...(retryAfterSeconds !== undefined && { retryAfterSeconds }), ...(kind === "throttle" && isMeta && { graphCode: 17 }) });
    },
  };
  if (platform === "tiktok") {
    subject.rejectApp = async (h) => {
      await h.simulator.configure({ tiktok: { clientSecret: "not-the-app-secret" } });
      return async () => void (await h.simulator.configure({ tiktok: { clientSecret: SIM_TIKTOK_CLIENT_SECRET } }));
    };
    subject.omitExpiresIn = async (h) => {
      await h.simulator.configure({ tiktok: { omitFields: ["expires_in"] } });
      // TikTok's provider falls back to one hour, shorter than any documented lifetime.
      return { undo: async () => void (await h.simulator.configure({ tiktok: { omitFields: [] } })), expect: (_before, at) => new Date(at + 60 * MINUTE) };
    };
  }
  if (isMeta) {
    subject.rejectApp = async (h) => {
      await h.simulator.configure({ meta: { appSecret: "not-the-app-secret" } });
      return async () => void (await h.simulator.configure({ meta: { appSecret: SIM_META_APP_SECRET } }));
    };
    subject.omitExpiresIn = async (h) => {
      await h.simulator.configure({ meta: { omitExpiresIn: true } });
      // Meta without expires_in says nothing of a longer life: the current expiry is kept.
      return { undo: async () => void (await h.simulator.configure({ meta: { omitExpiresIn: false } })), expect: () => "unchanged" };
    };
  }
  // Instagram Login and Threads refresh with the token alone (no app credentials to reject), and always send expires_in
  // (Threads: https://developers.facebook.com/docs/threads/get-started/long-lived-tokens/): those two cases do not
  // apply to them. Their 24-hour rule turns "refresh after refresh" into TOO_EARLY (minTokenAge).
  return subject;
}

function configured(
  name: string,
  config: Omit<OAuth2ProviderInput, "tokenUrl" | "clientId" | "clientSecret" | "id"> & { id?: string },
  sim: Partial<OAuth2SimProvider>,
): Subject {
  const id = config.id ?? "acme";
  const secret = "acme-secret with spaces&symbols";
  return {
    name,
    minTokenAge: false,
    generic: true,
    rotates: sim.rotate !== false,
    setup: {
      simulator: { oauth2: { [id]: { clientId: "acme-client", clientSecret: secret, accessLifetimeSeconds: 7200, ...sim } } },
      refresca: (url) => ({ providers: [{ ...config, id, tokenUrl: `${url}/oauth2/${id}/token`, clientId: "acme-client", clientSecret: secret }] }),
    },
    async add(h) {
      const tenantId = h.tenant();
      const tokens = h.simulator.oauth2.issue(id, { accessExpiresInSeconds: 1800 });
      const answer = await h.refresca.channels.upsert({ tenantId, type: id, displayName: name, ...tokens });
      if (!answer.success) throw new Error(answer.error);
      return { id: answer.channel.id, tenantId, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
    },
    async revoke(h, channel) {
      h.simulator.oauth2.revoke(channel.refreshToken!);
    },
    async rejectApp(h) {
      h.simulator.oauth2.configure(id, { clientSecret: "another-secret" });
      return async () => h.simulator.oauth2.configure(id, { clientSecret: secret });
    },
    async inject(h, kind, retryAfterSeconds) {
      h.simulator.oauth2.inject({ kind, provider: id, ...(retryAfterSeconds !== undefined && { retryAfterSeconds }) });
    },
    async omitExpiresIn(h) {
      h.simulator.oauth2.configure(id, { omitExpiresIn: true });
      return {
        undo: async () => h.simulator.oauth2.configure(id, { omitExpiresIn: false }),
        expect: (_before, at) => new Date(at + (config.defaultLifetimeSeconds ?? 3600) * 1000),
      };
    },
  };
}

const SUBJECTS: Subject[] = [
  // Every built-in platform, as registered: a new one joins the suite without being named here.
  ...PLATFORMS.map(builtIn),
  configured("configured OAuth 2.0, rotation on", { rotatesRefreshToken: true, defaultLifetimeSeconds: 900 }, { rotate: true }),
  configured("configured OAuth 2.0, rotation off", { rotatesRefreshToken: false, clientAuth: "client_secret_post" }, { rotate: false, clientAuth: "client_secret_post" }),
  configured("configured OAuth 2.0, rotation detected", { rotatesRefreshToken: "detect", defaultLifetimeSeconds: 1200 }, { rotate: true }),
  configured("configured OAuth 2.0, rotation detected (server does not rotate)", { rotatesRefreshToken: "detect" }, { rotate: false }),
  // The shipped presets, their token URL pointed at the simulator, which rotates as DESIGN.md §2 says each platform does.
  ...OAUTH2_PRESETS.map(({ tokenUrl: _url, ...preset }) =>
    configured(`preset ${preset.id}`, preset, { clientAuth: preset.clientAuth, rotate: preset.id !== "youtube" && preset.id !== "linkedin" })),
];

describe.each(SUBJECTS)("provider conformance: $name", (subject) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(subject.setup);
  });
  afterAll(async () => {
    await h?.close();
  });

  const refresh = (channel: Channel) => h.refresca.refreshChannelToken({ tenantId: channel.tenantId, channelId: channel.id });
  const row = async (channel: Channel) =>
    (await h.sql("select status, expires_at from channels where tenant_id = $1 and id = $2", [channel.tenantId, channel.id]))[0];

  it("refreshes: a new access token with a later expiry", async () => {
    const channel = await subject.add(h);
    const answer = await refresh(channel);
    expect(answer).toMatchObject({ success: true });
    const token = await h.refresca.getAccessToken({ tenantId: channel.tenantId, channelId: channel.id });
    expect(token).toMatchObject({ success: true });
    expect((token as { accessToken: string }).accessToken).not.toBe(channel.accessToken);
    expect((await row(channel)).expires_at.getTime()).toBeGreaterThan(Date.now() + 30 * MINUTE);
  });

  it("keeps the rotation: refresh after refresh succeeds, and no token is ever presented twice", async () => {
    const channel = await subject.add(h);
    expect(await refresh(channel)).toMatchObject({ success: true });
    if (subject.minTokenAge) {
      // The 24-hour rule: the token just refreshed is too young to refresh again.
      expect(await refresh(channel)).toMatchObject({ success: false, code: "TOO_EARLY" });
      return;
    }
    for (let i = 0; i < 2; i++) expect(await refresh(channel)).toMatchObject({ success: true });
    if (subject.rotates && channel.refreshToken) {
      // The first refresh token was spent once; had the rotated one not been stored, it would have been presented again.
      const stats = subject.generic ? h.simulator.oauth2.stats() : await h.simulator.stats();
      expect(stats.callsForToken(channel.refreshToken)).toBe(1);
      expect(stats.reuseDetected).toBe(0);
    }
  });

  it("flags the channel for re-authorization when the grant is revoked (invalid grant)", async () => {
    const channel = await subject.add(h);
    await subject.revoke(h, channel);
    expect(await refresh(channel)).toMatchObject({ success: false, code: "INVALID_CREDENTIALS" });
    expect((await row(channel)).status).toBe("needs_reauth");
  });

  it.runIf(subject.rejectApp)("does not flag the channel when the platform rejects the app credentials (invalid client)", async () => {
    const channel = await subject.add(h);
    const undo = await subject.rejectApp!(h);
    try {
      expect(await refresh(channel)).toMatchObject({ success: false, code: "APP_CREDENTIALS_REJECTED" });
      expect((await row(channel)).status).toBe("active");
      const [failure] = await h.sql("select last_error_code from channels where tenant_id = $1 and id = $2", [channel.tenantId, channel.id]);
      expect(failure.last_error_code).toBe("APP_CREDENTIALS_REJECTED");
    } finally {
      await undo();
    }
    expect(await refresh(channel)).toMatchObject({ success: true });
  });

  it("reports an outage as PLATFORM_UNAVAILABLE, and refreshes once the platform is back", async () => {
    const channel = await subject.add(h);
    await subject.inject(h, "unavailable");
    expect(await refresh(channel)).toMatchObject({ success: false, code: "PLATFORM_UNAVAILABLE" });
    expect((await row(channel)).status).toBe("active");
    expect(await refresh(channel)).toMatchObject({ success: true });
  });

  it("reports an HTML error page as PLATFORM_UNAVAILABLE", async () => {
    const channel = await subject.add(h);
    await subject.inject(h, "html502");
    expect(await refresh(channel)).toMatchObject({ success: false, code: "PLATFORM_UNAVAILABLE" });
    expect((await row(channel)).status).toBe("active");
  });

  it.runIf(subject.omitExpiresIn)("without expires_in, stores the expiry the provider defines", async () => {
    const channel = await subject.add(h);
    const before = (await row(channel)).expires_at as Date;
    const omitted = await subject.omitExpiresIn!(h);
    try {
      const at = Date.now();
      expect(await refresh(channel)).toMatchObject({ success: true });
      const expected = omitted.expect(before, at);
      const stored = ((await row(channel)).expires_at as Date).getTime();
      if (expected === "unchanged") expect(stored).toBe(before.getTime());
      else expect(Math.abs(stored - expected.getTime())).toBeLessThan(5000);
    } finally {
      await omitted.undo();
    }
  });

  // Last: a throttle keeps the channel (and, for some platforms, its app) waiting.
  it("honours throttling: RATE_LIMITED with the platform's wait, and no call before it", async () => {
    const channel = await subject.add(h);
    await subject.inject(h, "throttle", 30);
    const answer = await refresh(channel);
    expect(answer).toMatchObject({ success: false, code: "RATE_LIMITED" });
    expect((answer as { retryAfterSeconds?: number }).retryAfterSeconds).toBeGreaterThanOrEqual(29);
    expect((await row(channel)).status).toBe("active");
    expect(await refresh(channel)).toMatchObject({ success: false, code: "RATE_LIMITED" });
  });
});

describe("a configured provider is a channel type of its instance, in the library and the REST API", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(configured("acme", {}, {}).setup);
  });
  afterAll(async () => {
    await h?.close();
  });

  it("accepts the configured id as a channel type and still refuses unknown ones", async () => {
    expect(h.refresca.platformIds).toEqual([...PLATFORMS, "acme"]);
    expect(PLATFORMS).toContain("threads");
    const refused = await h.refresca.channels.upsert({ tenantId: h.tenant(), type: "myspace", displayName: "x", accessToken: "y" });
    expect(refused).toMatchObject({ success: false, code: "INVALID_INPUT" });
    expect((refused as { error: string }).error).toContain(`must be one of ${[...PLATFORMS, "acme"].join(", ")}`);
  });

  it("takes the configured type over PUT, and keeps the OpenAPI document valid", async () => {
    const api = createRefrescaApi(h.refresca);
    const made = await h.refresca.apiKeys.create({ name: "conformance" });
    if (!made.success) throw new Error(made.error);
    const tenantId = h.tenant();
    const tokens = h.simulator.oauth2.issue("acme");
    const put = (type: string) =>
      api.request(`/api/v1/tenants/${tenantId}/channels/ch1`, {
        method: "PUT",
        headers: { authorization: `Bearer ${made.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ type, displayName: "Acme", ...tokens }),
      });
    expect((await put("acme")).status).toBe(200);
    expect((await put("myspace")).status).toBe(400);
    const document = await (await api.request("/api/v1/openapi.json")).json();
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(JSON.stringify(document.components.schemas.ChannelInput.properties.type)).toContain("configured OAuth 2.0 providers");
  });
});
