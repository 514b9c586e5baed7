import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, withPresets } from "../src/config";
import { RefreshError } from "../src/core/errors";
import { BUILT_IN_MODULES, createProviders, DEFAULT_ENDPOINTS } from "../src/core/providers";
import {
  basicAuthorization,
  OAUTH2_PRESETS,
  oauth2Module,
  oauth2Preset,
  parseProviderConfigs,
  ProviderConfigError,
  type OAuth2ProviderInput,
} from "../src/core/providers/oauth2";

// The generic provider against a bare token endpoint whose answer each test scripts; the simulator's full protocol
// (rotation, reuse, revocation) is covered by test/providers.conformance.test.ts.

interface Received { headers: IncomingMessage["headers"]; body: URLSearchParams }
type Script = (received: Received) => { status: number; body: string; headers?: Record<string, string> };

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function endpoint(script: Script): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => {
      const call = { headers: req.headers, body: new URLSearchParams(text) };
      received.push(call);
      const answer = script(call);
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(answer.body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, received };
}

function providerFor(config: OAuth2ProviderInput) {
  const [parsed] = parseProviderConfigs([config]);
  const providers = createProviders({ ...DEFAULT_ENDPOINTS, apps: {}, timeoutMs: 3000 }, [...BUILT_IN_MODULES, oauth2Module(parsed!)]);
  return providers.forChannel({ type: config.id, meta: {} });
}

const now = new Date("2026-01-01T00:00:00Z");
const request = {
  channel: { id: "ch_1", type: "acme", meta: {}, expiresAt: new Date(now.getTime() + 60_000) },
  credentials: { accessToken: "access-1", refreshToken: "refresh-1" },
  now,
};
const json = (status: number, body: unknown, headers?: Record<string, string>) => () => ({ status, body: JSON.stringify(body), ...(headers && { headers }) });
const failure = (promise: Promise<unknown>) => promise.then(() => { throw new Error("expected a failure"); }, (error: RefreshError) => error);

describe("generic OAuth 2.0 provider: the request (RFC 6749 §6)", () => {
  it("sends the refresh_token grant with client_secret_basic, form-encoding id and secret before Base64", async () => {
    const { url, received } = await endpoint(json(200, { access_token: "a2", token_type: "Bearer", expires_in: 60 }));
    const provider = providerFor({ id: "acme", tokenUrl: url, clientId: "my id:1", clientSecret: "s€cret+/", scope: "offline_access", extraParams: { audience: "x" } });
    await provider.refresh(request);
    const [call] = received;
    expect(call!.body.get("grant_type")).toBe("refresh_token");
    expect(call!.body.get("refresh_token")).toBe("refresh-1");
    expect(call!.body.get("scope")).toBe("offline_access");
    expect(call!.body.get("audience")).toBe("x");
    expect(call!.body.has("client_secret")).toBe(false);
    const decoded = Buffer.from(call!.headers.authorization!.replace(/^Basic /, ""), "base64").toString();
    expect(decoded).toBe("my+id%3A1:s%E2%82%ACcret%2B%2F");
    expect(call!.headers.authorization).toBe(basicAuthorization({ clientId: "my id:1", clientSecret: "s€cret+/" }));
  });

  it("repeats a refused Basic authentication once with the credentials as they are, and keeps what worked", async () => {
    // Servers that take Basic credentials as sent (@node-oauth/oauth2-server 5) refuse the encoded "~" and "+".
    const client = { clientId: "app~1", clientSecret: "se+cret/x" };
    const raw = basicAuthorization(client, false);
    const { url, received } = await endpoint(({ headers }) =>
      headers.authorization === raw
        ? { status: 200, body: JSON.stringify({ access_token: "a2", token_type: "Bearer", expires_in: 60, refresh_token: "r2" }) }
        : { status: 401, body: JSON.stringify({ error: "invalid_client" }) });
    const provider = providerFor({ id: "acme", tokenUrl: url, ...client });
    expect((await provider.refresh(request)).accessToken).toBe("a2");
    expect(received.map((call) => call.headers.authorization)).toEqual([basicAuthorization(client), raw]);
    await provider.refresh(request);
    expect(received).toHaveLength(3);
    expect(received[2]!.headers.authorization).toBe(raw);
  });

  it("repeats a Basic authentication refused with a bare 401 too, as sent", async () => {
    const client = { clientId: "app~2", clientSecret: "se+cret" };
    const raw = basicAuthorization(client, false);
    const { url, received } = await endpoint(({ headers }) =>
      headers.authorization === raw
        ? { status: 200, body: JSON.stringify({ access_token: "a3", token_type: "Bearer", expires_in: 60 }) }
        : { status: 401, body: "", headers: { "www-authenticate": "Basic" } });
    expect((await providerFor({ id: "acme", tokenUrl: url, ...client }).refresh(request)).accessToken).toBe("a3");
    expect(received).toHaveLength(2);
  });

  it("does not repeat a refused Basic authentication when encoding changes nothing, and reports the app rejected", async () => {
    const { url, received } = await endpoint(json(401, { error: "invalid_client" }));
    const error = await failure(providerFor({ id: "acme", tokenUrl: url, clientId: "plain-id", clientSecret: "Plain_Secret.9" }).refresh(request));
    expect(error.code).toBe("APP_CREDENTIALS_REJECTED");
    expect(received).toHaveLength(1);
  });

  it("reports the app rejected when neither form of the Basic credentials is accepted, and tries the encoded form again next time", async () => {
    const { url, received } = await endpoint(json(401, { error: "invalid_client" }));
    const provider = providerFor({ id: "acme", tokenUrl: url, clientId: "app~1", clientSecret: "wrong+secret" });
    expect((await failure(provider.refresh(request))).code).toBe("APP_CREDENTIALS_REJECTED");
    expect(received).toHaveLength(2);
    await failure(provider.refresh(request));
    expect(received[2]!.headers.authorization).toBe(basicAuthorization({ clientId: "app~1", clientSecret: "wrong+secret" }));
  });

  it("sends client_secret_post credentials in the body and no Authorization header", async () => {
    const { url, received } = await endpoint(json(200, { access_token: "a2", token_type: "bearer", expires_in: 60 }));
    await providerFor({ id: "acme", tokenUrl: url, clientAuth: "client_secret_post", clientId: "id", clientSecret: "secret" }).refresh(request);
    expect(received[0]!.body.get("client_id")).toBe("id");
    expect(received[0]!.body.get("client_secret")).toBe("secret");
    expect(received[0]!.headers.authorization).toBeUndefined();
  });
});

describe("generic OAuth 2.0 provider: the answer", () => {
  const base = { id: "acme", clientId: "id", clientSecret: "secret" } as const;

  it("stores a rotated refresh token and falls back to the default lifetime without expires_in", async () => {
    const { url } = await endpoint(json(200, { access_token: "a2", token_type: "Bearer", refresh_token: "r2", scope: "read" }));
    const tokens = await providerFor({ ...base, tokenUrl: url, defaultLifetimeSeconds: 900 }).refresh(request);
    expect(tokens).toMatchObject({ accessToken: "a2", refreshToken: "r2", details: { scope: "read" } });
    expect(tokens.expiresAt!.getTime()).toBe(now.getTime() + 900_000);
  });

  it("keeps the current refresh token when the answer carries none (rotation off or detected off)", async () => {
    const { url } = await endpoint(json(200, { access_token: "a2", token_type: "Bearer", expires_in: 3600 }));
    for (const rotatesRefreshToken of [false, "detect"] as const) {
      const tokens = await providerFor({ ...base, tokenUrl: url, rotatesRefreshToken }).refresh(request);
      expect(tokens.refreshToken).toBeUndefined();
      expect(tokens.expiresAt!.getTime()).toBe(now.getTime() + 3_600_000);
    }
  });

  it("refuses an answer without a refresh token when the provider is configured to rotate", async () => {
    const { url } = await endpoint(json(200, { access_token: "a2", token_type: "Bearer", expires_in: 60 }));
    expect((await failure(providerFor({ ...base, tokenUrl: url, rotatesRefreshToken: true }).refresh(request))).code).toBe("INVALID_RESPONSE");
  });

  it.each([
    ["invalid_grant flags the channel", json(400, { error: "invalid_grant" }), "INVALID_CREDENTIALS"],
    ["invalid_client is the app's fault, not the channel's", json(401, { error: "invalid_client" }), "APP_CREDENTIALS_REJECTED"],
    ["unauthorized_client is the app's fault", json(400, { error: "unauthorized_client" }), "APP_CREDENTIALS_REJECTED"],
    ["a bare 401 (no JSON, WWW-Authenticate) is the client's authentication failing", () => ({ status: 401, body: "", headers: { "www-authenticate": 'Basic realm="token"' } }), "APP_CREDENTIALS_REJECTED"],
    ["429 with Retry-After waits as told", json(429, { error: "slow_down" }, { "retry-after": "7" }), "RATE_LIMITED"],
    ["503 with Retry-After waits as told", json(503, {}, { "retry-after": "9" }), "RATE_LIMITED"],
    ["a 5xx is an outage", json(500, { error: "server_error" }), "PLATFORM_UNAVAILABLE"],
    ["an HTML error page is an outage", () => ({ status: 502, body: "<html>Bad gateway</html>", headers: { "content-type": "text/html" } }), "PLATFORM_UNAVAILABLE"],
  ] as const)("%s", async (_name, script, code) => {
    const { url } = await endpoint(script);
    const error = await failure(providerFor({ ...base, tokenUrl: url }).refresh(request));
    expect(error).toBeInstanceOf(RefreshError);
    expect(error.code).toBe(code);
    if (code === "RATE_LIMITED") expect(error.retryAfterMs).toBeGreaterThan(0);
  });

  it("reads an invalid_request that names the refresh token refused (@jmondi/oauth2-server) as invalid_grant, and no other", async () => {
    // Found against a real server (test/oauth2-real-servers.test.ts): @jmondi/oauth2-server answers a revoked, spent,
    // expired or foreign refresh token invalid_request where RFC 6749 §5.2 says invalid_grant; the channel was retried
    // as INTERNAL instead of flagged needs_reauth.
    let description: string | undefined;
    const { url } = await endpoint(() => json(400, { error: "invalid_request", ...(description !== undefined && { error_description: description }) })());
    const provider = providerFor({ ...base, tokenUrl: url });
    const refused = ["Token has been revoked", "Token has expired", "Token is not linked to client", "Token missing", "Cannot verify the refresh token", "Cannot decrypt the refresh token"];
    for (description of refused) {
      const error = await failure(provider.refresh(request));
      expect([description, error.code, error.platformCode]).toEqual([description, "INVALID_CREDENTIALS", "invalid_request"]);
    }
    for (description of [undefined, "Check the `scope` parameter", "Token has been revoked, or the scope is malformed"]) {
      expect([description, (await failure(provider.refresh(request))).code]).toEqual([description, "INTERNAL"]);
    }
  });

  it.each([
    ["429 with Retry-After", json(429, {}, { "retry-after": "30" })],
    ["503 with Retry-After", json(503, { error: "temporarily_unavailable" }, { "retry-after": "30" })],
    ["slow_down without Retry-After", json(400, { error: "slow_down" })],
  ] as const)("a throttle (%s) holds the provider's whole app, not one channel: a token endpoint limits the client", async (_name, script) => {
    // Found against real servers (test/oauth2-real-servers.test.ts): without throttleScope "app", every other channel
    // of the provider still called the token endpoint during the wait.
    const { url } = await endpoint(script);
    const error = await failure(providerFor({ ...base, tokenUrl: url }).refresh(request));
    expect(error.code).toBe("RATE_LIMITED");
    expect(error.details?.throttleScope).toBe("app");
  });

  it("answers MISSING_APP_CREDENTIALS without calling the platform when the client id or secret is unset", async () => {
    const { url, received } = await endpoint(json(200, {}));
    const error = await failure(providerFor({ id: "acme", tokenUrl: url, clientIdEnv: "ACME_ID", clientSecretEnv: "ACME_SECRET" }).refresh(request));
    expect(error.code).toBe("MISSING_APP_CREDENTIALS");
    expect(error.message).toContain("ACME_ID / ACME_SECRET");
    expect(received).toHaveLength(0);
  });
});

describe("provider configuration", () => {
  const ok = { id: "acme", tokenUrl: "https://auth.acme.example/token" };
  const message = (input: unknown) => {
    try {
      parseProviderConfigs(input, "providers.json");
    } catch (error) {
      expect(error).toBeInstanceOf(ProviderConfigError);
      return (error as Error).message;
    }
    throw new Error("expected a ProviderConfigError");
  };

  it("accepts the shape DESIGN §2 fixes, with defaults", () => {
    const [config] = parseProviderConfigs({ providers: [{ ...ok, displayName: "Acme", clientAuth: "client_secret_basic", clientIdEnv: "ACME_CLIENT_ID", clientSecretEnv: "ACME_CLIENT_SECRET", scope: "offline_access", rotatesRefreshToken: "detect", defaultLifetimeSeconds: 3600, leadSeconds: 600, extraParams: {} }] });
    expect(config).toMatchObject({ id: "acme", clientAuth: "client_secret_basic", rotatesRefreshToken: "detect", leadSeconds: 600 });
    expect(parseProviderConfigs([ok])[0]).toMatchObject({ clientAuth: "client_secret_basic", defaultLifetimeSeconds: 3600, extraParams: {} });
  });

  it("names the bad entry by index, id and field", () => {
    expect(message([ok, { id: "acme2", tokenUrl: "http://auth.example/token" }])).toContain('providers[1] ("acme2").tokenUrl: must be an https URL');
    expect(message([{ ...ok, id: "tiktok" }])).toContain('providers[0] ("tiktok").id: reuses the name of a built-in platform');
    expect(message([{ ...ok, id: "Acme!" }])).toContain("providers[0] (\"Acme!\").id: must match");
    expect(message([ok, ok])).toContain('providers[1] ("acme").id: appears twice');
    expect(message([{ ...ok, clientAuth: "private_key_jwt" }])).toContain("providers[0] (\"acme\").clientAuth");
    expect(message([{ ...ok, extraParams: { grant_type: "password" } }])).toContain("extraParams: must not set grant_type");
    expect(message([{ ...ok, tokenUrll: "x" }])).toContain("unknown field(s) tokenUrll");
    expect(message({ providers: "acme" })).toContain("must be a list of providers");
  });

  it("allows http only for loopback addresses", () => {
    for (const host of ["127.0.0.1:8080", "localhost", "[::1]:9000"]) {
      expect(parseProviderConfigs([{ ...ok, tokenUrl: `http://${host}/token` }])).toHaveLength(1);
    }
  });
});

describe("REFRESCA_PROVIDERS_FILE (entry points only)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "refresca-providers-"));
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it("reads JSON and YAML in the shape DESIGN §2 fixes, resolving the credentials from the environment", () => {
    const json = write("providers.json", JSON.stringify({ providers: [{ id: "acme", tokenUrl: "https://auth.acme.example/token", clientIdEnv: "ACME_ID", clientSecretEnv: "ACME_SECRET" }] }));
    const yaml = write("providers.yaml", "providers:\n  - id: acme\n    tokenUrl: https://auth.acme.example/token\n    clientAuth: client_secret_post\n    clientIdEnv: ACME_ID\n    clientSecretEnv: ACME_SECRET\n    rotatesRefreshToken: detect\n");
    for (const file of [json, yaml]) {
      const config = loadConfig({ REFRESCA_PROVIDERS_FILE: file, ACME_ID: "the-id", ACME_SECRET: "the-secret" });
      expect(config.providers).toMatchObject([{ id: "acme", clientId: "the-id", clientSecret: "the-secret" }]);
    }
    expect(loadConfig({ REFRESCA_PROVIDERS_FILE: yaml }).providers[0]).toMatchObject({ clientAuth: "client_secret_post", rotatesRefreshToken: "detect" });
  });

  it("leaves a provider whose variables are unset without app credentials (its channels answer MISSING_APP_CREDENTIALS)", () => {
    const file = write("unset.json", JSON.stringify([{ id: "acme", tokenUrl: "https://auth.acme.example/token", clientIdEnv: "ACME_ID", clientSecretEnv: "ACME_SECRET" }]));
    const [config] = loadConfig({ REFRESCA_PROVIDERS_FILE: file, ACME_ID: "the-id" }).providers;
    expect(config).not.toHaveProperty("clientSecret");
  });

  it("refuses a bad file with a ConfigError naming the variable, the entry and the field", () => {
    const bad = write("bad.yml", "providers:\n  - id: acme\n    tokenUrl: http://auth.acme.example/token\n");
    expect(() => loadConfig({ REFRESCA_PROVIDERS_FILE: bad })).toThrow(ConfigError);
    expect(() => loadConfig({ REFRESCA_PROVIDERS_FILE: bad })).toThrow(/REFRESCA_PROVIDERS_FILE: .*providers\[0\] \("acme"\)\.tokenUrl: must be an https URL/);
    expect(() => loadConfig({ REFRESCA_PROVIDERS_FILE: write("broken.json", "{") })).toThrow(/REFRESCA_PROVIDERS_FILE: .* is not valid JSON/);
    expect(() => loadConfig({ REFRESCA_PROVIDERS_FILE: path.join(dir, "missing.json") })).toThrow(/cannot read .*ENOENT/);
  });
});

describe("presets", () => {
  it("are valid provider configurations, off until both their variables are set, and yield to the providers file", () => {
    expect(parseProviderConfigs([...OAUTH2_PRESETS]).map((preset) => preset.id)).toEqual(["youtube", "linkedin", "twitter", "pinterest"]);
    expect(withPresets([], { YOUTUBE_CLIENT_ID: "id" })).toEqual([]);
    expect(withPresets([], { YOUTUBE_CLIENT_ID: "id", YOUTUBE_CLIENT_SECRET: "secret" })).toMatchObject([
      { id: "youtube", tokenUrl: "https://oauth2.googleapis.com/token", clientId: "id", clientSecret: "secret" },
    ]);
    const own = { id: "youtube", tokenUrl: "https://proxy.example/token" };
    expect(withPresets([own], { YOUTUBE_CLIENT_ID: "id", YOUTUBE_CLIENT_SECRET: "secret" })).toEqual([own]);
    expect(oauth2Preset("pinterest", { clientId: "a", clientSecret: "b" })).toMatchObject({ id: "pinterest", clientAuth: "client_secret_basic", clientId: "a" });
  });
});
