import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import * as Jmondi from "@jmondi/oauth2-server";
import { handleVanillaError } from "@jmondi/oauth2-server/vanilla";
import OAuth2Server from "@node-oauth/oauth2-server";
import Provider from "oidc-provider";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/core/logger";
import { formEncode, type OAuth2ProviderInput } from "../src/core/providers/oauth2";
import { createRefrescaFromEnv } from "../src/from-env";
import { createRefresca, type Refresca } from "../src/refresca";
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from "./env";
import { deleteKeys, startHarness, TEST_KEYS, type Harness } from "./support/harness";
import { waitFor } from "./support/wait";

// The generic OAuth 2.0 provider against three real authorization servers from npm, all rotating refresh tokens:
// oidc-provider (8.x: 9.x declares Node.js 22 LTS its minimum runtime, this project runs on Node 20),
// @node-oauth/oauth2-server and @jmondi/oauth2-server. Refresca is configured by data (the `providers` option, and
// once REFRESCA_PROVIDERS_FILE) and every refresh goes over real HTTP to the server's real token endpoint, with real
// PostgreSQL and Redis. In front of each server sits a door (same HTTP server, before the library's handler) that
// counts the token endpoint's calls and can answer them 429 the way a gateway throttling the app would.

/** An app registered at the server. */
interface AppClient {
  clientId: string;
  clientSecret: string;
}

/** A secret made only of characters form-encoding leaves as they are ([A-Za-z0-9*-._]). */
const PLAIN: AppClient = { clientId: "refresca-app", clientSecret: "Plain-Secret_0.9" };
/**
 * Secrets that RFC 6749 §2.3.1 form-encoding (Appendix B: application/x-www-form-urlencoded) changes before Basic
 * authentication: even RFC 3986's unreserved "~" becomes %7E; and space, +, &, =, %, :, / as well.
 */
const CHANGED_BY_ENCODING = [
  { suffix: "tilde", what: "~ (RFC 3986 unreserved)", client: { clientId: "refresca-app-tilde", clientSecret: "Tilde~Secret-0.9_x" } },
  { suffix: "enc", what: "space + & = % : /", client: { clientId: "refresca-app-enc", clientSecret: "s3cret with space+plus&amp=eq%pct:colon/slash" } },
] as const satisfies ReadonlyArray<{ suffix: string; what: string; client: AppClient }>;
const APPS: AppClient[] = [PLAIN, ...CHANGED_BY_ENCODING.map((secret) => secret.client)];
const REDIRECT_URI = "https://client.example/callback";

interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** From the server's expires_in. */
  expiresAt: Date;
}

interface Door {
  /** The server's origin, e.g. http://127.0.0.1:41234. */
  url: string;
  /** POSTs that reached the token endpoint (throttled ones included). */
  tokenCalls: number;
  /** When set, the token endpoint answers 429 with this Retry-After instead of reaching the server. */
  throttle: { retryAfterSeconds: number } | null;
  /** The server's own request handler. */
  handle: RequestListener;
  close(): Promise<void>;
}

/** One HTTP server on a free loopback port: the door's counting and throttling, then `door.handle`. */
async function openDoor(tokenPath: string): Promise<Door> {
  const server = createServer((req, res) => {
    if (req.method === "POST" && new URL(req.url ?? "/", "http://door").pathname === tokenPath) {
      door.tokenCalls++;
      if (door.throttle) {
        req.resume();
        res.writeHead(429, { "content-type": "text/plain", "retry-after": String(door.throttle.retryAfterSeconds) });
        res.end("Too Many Requests");
        return;
      }
    }
    door.handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const door: Door = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tokenCalls: 0,
    throttle: null,
    handle: (_req, res) => res.writeHead(503).end(),
    close: () =>
      new Promise<void>((resolve) => {
        // Refresca keeps connections alive: end them, or close() waits for them.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return door;
}

/** A real authorization server, as the scenario drives it. */
interface RealServer {
  /** What the server is, in test names. */
  name: string;
  door: Door;
  tokenUrl: string;
  clientAuth: "client_secret_basic" | "client_secret_post";
  /** The access tokens' lifetime (expires_in) the server is configured with, unlike Refresca's default of 3600. */
  accessLifetimeSeconds: number;
  /** A new grant, as after the person consented: an authorization code exchanged at the real token endpoint. */
  connect(client: AppClient): Promise<Tokens>;
  /** Whether the server's protected resource accepts the access token. */
  accepts(accessToken: string): Promise<boolean>;
  /** Calls the token endpoint directly as the app (this test's own client, not Refresca's). */
  tokenRequest(client: AppClient, params: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Ends the grant this refresh token belongs to (the person revoked the app). */
  revoke(refreshToken: string): Promise<void>;
  close(): Promise<void>;
}

async function post(url: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", ...headers },
    body: new URLSearchParams(params).toString(),
  });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

async function exchangeCode(server: Pick<RealServer, "tokenRequest">, client: AppClient, code: string, extra: Record<string, string> = {}): Promise<Tokens> {
  const at = Date.now();
  const { status, json } = await server.tokenRequest(client, { ...extra, grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI });
  if (status !== 200 || typeof json.refresh_token !== "string") throw new Error(`code exchange: HTTP ${status} ${String(json.error)} ${String(json.error_description ?? "")}`);
  return {
    accessToken: String(json.access_token),
    refreshToken: json.refresh_token,
    expiresAt: new Date(at + Number(json.expires_in) * 1000),
  };
}

/**
 * oidc-provider with `rotateRefreshToken: true`: every refresh consumes the refresh token presented and answers a new
 * one; presenting a consumed one fails and revokes the whole grant. Refresh tokens need the `offline_access` scope,
 * which the minted grant and authorization code carry (in the browser flow it needs the person's consent).
 */
async function startOidcProvider(): Promise<RealServer> {
  const door = await openDoor("/token");
  const accessLifetimeSeconds = 5400;
  const signingKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const provider = new Provider(door.url, {
    clients: APPS.map((client) => ({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code" as const],
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "client_secret_basic" as const,
    })),
    rotateRefreshToken: true,
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    features: { revocation: { enabled: true }, devInteractions: { enabled: false } },
    ttl: { AccessToken: accessLifetimeSeconds, AuthorizationCode: 60, Grant: 86_400, IdToken: 3600, RefreshToken: 86_400, Session: 86_400, Interaction: 600 },
    jwks: { keys: [{ ...signingKey, kid: "test-signing-key", use: "sig", alg: "RS256" } as never] },
    cookies: { keys: ["refresca-real-server-test"] },
  });
  door.handle = provider.callback();
  // oidc-provider form-decodes Basic credentials (RFC 6749 §2.3.1, its lib/shared/token_auth.js): encode likewise.
  const basic = (client: AppClient) =>
    `Basic ${Buffer.from(`${formEncode(client.clientId)}:${formEncode(client.clientSecret)}`).toString("base64")}`;
  const server: RealServer = {
    name: "oidc-provider",
    door,
    tokenUrl: `${door.url}/token`,
    clientAuth: "client_secret_basic",
    accessLifetimeSeconds,
    async connect(client) {
      const accountId = uniqueName("person");
      const registered = await provider.Client.find(client.clientId);
      const grant = new provider.Grant({ accountId, clientId: client.clientId });
      grant.addOIDCScope("openid offline_access");
      const grantId = await grant.save();
      const code = await new provider.AuthorizationCode({
        accountId,
        client: registered!,
        grantId,
        gty: "authorization_code",
        scope: "openid offline_access",
        redirectUri: REDIRECT_URI,
        authTime: Math.floor(Date.now() / 1000),
      }).save();
      return exchangeCode(server, client, code);
    },
    async accepts(accessToken) {
      const response = await fetch(`${door.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
      await response.arrayBuffer();
      return response.status === 200;
    },
    tokenRequest: (client, params) => post(`${door.url}/token`, params, { authorization: basic(client) }),
    async revoke(refreshToken) {
      // RFC 7009 revocation of a refresh token: oidc-provider destroys the grant with it (revokeGrantPolicy).
      const { status } = await post(`${door.url}/token/revocation`, { token: refreshToken, token_type_hint: "refresh_token" }, {
        authorization: basic(PLAIN),
      });
      if (status !== 200) throw new Error(`revocation: HTTP ${status}`);
    },
    close: () => door.close(),
  };
  return server;
}

type OAuthToken = OAuth2Server.Token;

/**
 * @node-oauth/oauth2-server behind a plain node:http server, with an in-memory model: `alwaysIssueNewRefreshToken`,
 * and `revokeToken` deletes the refresh token presented, so each is single-use.
 */
async function startNodeOAuth2Server(clientAuth: RealServer["clientAuth"]): Promise<RealServer> {
  const door = await openDoor("/token");
  const accessLifetimeSeconds = 2400;
  const apps = new Map(APPS.map((client) => [client.clientId, client]));
  const clientOf = (id: string): OAuth2Server.Client => ({ id, grants: ["authorization_code", "refresh_token"], redirectUris: [REDIRECT_URI] });
  const codes = new Map<string, OAuth2Server.AuthorizationCode>();
  const accessTokens = new Map<string, OAuthToken>();
  const refreshTokens = new Map<string, OAuthToken>();
  const model: OAuth2Server.AuthorizationCodeModel & OAuth2Server.RefreshTokenModel = {
    async getClient(clientId, clientSecret) {
      const app = apps.get(clientId);
      return app && app.clientSecret === clientSecret ? clientOf(clientId) : null;
    },
    async saveToken(token, client, user) {
      const saved = { ...token, client, user };
      accessTokens.set(token.accessToken, saved);
      if (token.refreshToken) refreshTokens.set(token.refreshToken, saved);
      return saved;
    },
    getAccessToken: async (value) => accessTokens.get(value) ?? null,
    getRefreshToken: async (value) => {
      const token = refreshTokens.get(value);
      return token ? { ...token, refreshToken: value } : null;
    },
    // Single use: the refresh token presented is deleted before the new pair is issued.
    revokeToken: async (token) => refreshTokens.delete(token.refreshToken),
    getAuthorizationCode: async (code) => codes.get(code) ?? null,
    async saveAuthorizationCode(code, client, user) {
      const saved = { ...code, client, user };
      codes.set(code.authorizationCode, saved);
      return saved;
    },
    revokeAuthorizationCode: async (code) => codes.delete(code.authorizationCode),
  };
  const oauth = new OAuth2Server({ model, accessTokenLifetime: accessLifetimeSeconds, refreshTokenLifetime: 86_400, alwaysIssueNewRefreshToken: true });
  door.handle = (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", door.url);
      const request = new OAuth2Server.Request({
        method: req.method ?? "GET",
        headers: req.headers as Record<string, string>,
        query: Object.fromEntries(url.searchParams),
        body: Object.fromEntries(new URLSearchParams(await bodyOf(req))),
      });
      const response = new OAuth2Server.Response();
      try {
        if (url.pathname === "/token") await oauth.token(request, response);
        else if (url.pathname === "/resource") {
          await oauth.authenticate(request, response);
          response.body = { ok: true };
        } else response.status = 404;
      } catch (error) {
        const failure = error as OAuth2Server.OAuthError;
        response.status = failure.code ?? 500;
        response.body = { error: failure.name };
      }
      res.writeHead(response.status ?? 200, { ...(response.headers as Record<string, string>), "content-type": "application/json" });
      res.end(JSON.stringify(response.body ?? {}));
    })().catch(() => res.writeHead(500).end());
  };
  const server: RealServer = {
    name: `@node-oauth/oauth2-server, ${clientAuth}`,
    door,
    tokenUrl: `${door.url}/token`,
    clientAuth,
    accessLifetimeSeconds,
    async connect(client) {
      const authorizationCode = randomBytes(16).toString("hex");
      codes.set(authorizationCode, {
        authorizationCode,
        expiresAt: new Date(Date.now() + 60_000),
        redirectUri: REDIRECT_URI,
        scope: ["profile"],
        client: clientOf(client.clientId),
        user: { id: uniqueName("person") },
      });
      return exchangeCode(server, client, authorizationCode);
    },
    async accepts(accessToken) {
      const response = await fetch(`${door.url}/resource`, { headers: { authorization: `Bearer ${accessToken}` } });
      await response.arrayBuffer();
      return response.status === 200;
    },
    tokenRequest(client, params) {
      if (clientAuth === "client_secret_post") return post(`${door.url}/token`, { ...params, client_id: client.clientId, client_secret: client.clientSecret });
      // As this server reads them: the credentials unencoded.
      return post(`${door.url}/token`, params, { authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64")}` });
    },
    async revoke(refreshToken) {
      const person = refreshTokens.get(refreshToken)?.user.id;
      if (!person) throw new Error("revoke: no such refresh token");
      for (const tokens of [accessTokens, refreshTokens]) for (const [value, token] of tokens) if (token.user.id === person) tokens.delete(value);
    },
    close: () => door.close(),
  };
  return server;
}

/**
 * @jmondi/oauth2-server behind a plain node:http server, with in-memory repositories written after its example app's.
 * It always rotates: a refresh revokes the presented token's record (`tokenRepository.revoke`) and issues a new pair,
 * and it detects no reuse (a spent refresh token is refused, the grant lives on). Its refresh and access tokens are JWTs
 * signed with one secret that point at the repository's records (`refresh_token_id`, `jti`), so a revocation there
 * ends them. Its refusals of a spent, revoked or expired refresh token are `invalid_request` (error_description "Token
 * has been revoked", ...) where RFC 6749 §5.2 says invalid_grant. It reads Basic credentials without form-decoding them
 * and splits them at every colon, keeping two parts: a secret with a ":" never authenticates by Basic there.
 */
async function startJmondiOAuth2Server(clientAuth: RealServer["clientAuth"]): Promise<RealServer> {
  const door = await openDoor("/token");
  const accessLifetimeSeconds = 3000;
  const jwt = new Jmondi.JwtService(randomBytes(32).toString("hex"));
  const scopes: Jmondi.OAuthScope[] = [{ name: "profile" }];
  const clients = new Map(APPS.map((app): [string, Jmondi.OAuthClient] => [app.clientId, {
    id: app.clientId,
    name: app.clientId,
    secret: app.clientSecret,
    redirectUris: [REDIRECT_URI],
    // Its revocation endpoint (RFC 7009) authenticates the client under the client_credentials grant.
    allowedGrants: ["authorization_code", "refresh_token", "client_credentials"],
    scopes,
  }]));
  const clientRepository: Jmondi.OAuthClientRepository = {
    async getByIdentifier(clientId) {
      const client = clients.get(clientId);
      if (!client) throw Jmondi.OAuthException.invalidClient();
      return client;
    },
    isClientValid: async (grantType, client, clientSecret) => client.secret === clientSecret && client.allowedGrants.includes(grantType),
  };
  const scopeRepository: Jmondi.OAuthScopeRepository = {
    getAllByIdentifiers: async (names) => scopes.filter((scope) => names.includes(scope.name)),
    finalize: async (requested) => requested,
  };
  const userRepository: Jmondi.OAuthUserRepository = { getUserByCredentials: async (id) => ({ id }) };
  const codes = new Map<string, Jmondi.OAuthAuthCode>();
  const spentCodes = new Set<string>();
  const authCodeRepository: Jmondi.OAuthAuthCodeRepository = {
    issueAuthCode: (client, user, requested) =>
      ({ code: Jmondi.generateRandomToken(), client, user, scopes: requested, expiresAt: new Date(Date.now() + 60_000) }),
    persist: async (code) => void codes.set(code.code, code),
    async getByIdentifier(code) {
      const saved = codes.get(code);
      if (!saved) throw Jmondi.OAuthException.invalidGrant();
      return saved;
    },
    isRevoked: async (code) => !codes.has(code) || spentCodes.has(code),
    revoke: async (code) => void spentCodes.add(code),
  };
  /** Token records by access token id (the access JWT's jti) and by refresh token id (its refresh JWT's refresh_token_id). */
  const byAccess = new Map<string, Jmondi.OAuthToken>();
  const byRefresh = new Map<string, Jmondi.OAuthToken>();
  const found = (token: Jmondi.OAuthToken | undefined) => {
    if (!token) throw new Error("no such token");
    return token;
  };
  /** As its example's Token.revoke(): both halves of the record expire now. */
  const expire = (token: Jmondi.OAuthToken) => {
    token.accessTokenExpiresAt = new Date(0);
    token.refreshTokenExpiresAt = new Date(0);
  };
  const tokenRepository: Jmondi.OAuthTokenRepository = {
    issueToken: async (client, requested, user) =>
      ({ accessToken: Jmondi.generateRandomToken(), accessTokenExpiresAt: new Date(), client, user, scopes: requested }),
    persist: async (token) => void byAccess.set(token.accessToken, token),
    async issueRefreshToken(token) {
      token.refreshToken = Jmondi.generateRandomToken();
      token.refreshTokenExpiresAt = new Date(Date.now() + 86_400_000);
      byRefresh.set(token.refreshToken, token);
      return token;
    },
    // Called with the presented refresh token's record on every refresh: that is what makes each single-use.
    revoke: async (token) => expire(token),
    // An authorization code presented twice: what it yielded is revoked (RFC 6749 §4.1.2).
    revokeDescendantsOf: async (codeId) => [...byAccess.values()].filter((token) => token.originatingAuthCodeId === codeId).forEach(expire),
    isRefreshTokenRevoked: async (token) => Date.now() > (token.refreshTokenExpiresAt?.getTime() ?? 0),
    getByRefreshToken: async (id) => found(byRefresh.get(id)),
    getByAccessToken: async (id) => found(byAccess.get(id)),
  };
  const accessTTL = new Jmondi.DateInterval(`${accessLifetimeSeconds}s`);
  const authorizationServer = new Jmondi.AuthorizationServer(clientRepository, tokenRepository, scopeRepository, jwt);
  authorizationServer.enableGrantTypes(
    [{ grant: "authorization_code", authCodeRepository, userRepository }, accessTTL],
    ["refresh_token", accessTTL],
  );
  /** Its example app's resource check: a valid signature, and a record that has not expired (or been revoked). */
  async function validAccessToken(authorization: string | undefined) {
    try {
      const { jti } = await jwt.verify(authorization?.replace(/^Bearer /, "") ?? "");
      return (await tokenRepository.getByAccessToken!(String(jti))).accessTokenExpiresAt > new Date();
    } catch {
      return false;
    }
  }
  door.handle = (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", door.url);
      const request = new Jmondi.OAuthRequest({
        headers: req.headers,
        query: Object.fromEntries(url.searchParams),
        body: Object.fromEntries(new URLSearchParams(await bodyOf(req))),
      });
      const route = `${req.method} ${url.pathname}`;
      let response: Jmondi.OAuthResponse;
      try {
        if (route === "POST /token") response = await authorizationServer.respondToAccessTokenRequest(request);
        else if (route === "POST /token/revoke") response = await authorizationServer.revoke(request);
        else if (route === "GET /authorize") {
          const authorization = await authorizationServer.validateAuthorizationRequest(request);
          // Stands in for the login and consent pages: the person this header names signed in and approved.
          authorization.user = { id: String(req.headers["x-signed-in-person"]) };
          authorization.isAuthorizationApproved = true;
          response = await authorizationServer.completeAuthorizationRequest(authorization);
        } else if (route === "GET /resource") {
          response = (await validAccessToken(req.headers.authorization))
            ? new Jmondi.OAuthResponse({ body: { ok: true } })
            : new Jmondi.OAuthResponse({ status: 401, body: { error: "invalid_token" } });
        } else response = new Jmondi.OAuthResponse({ status: 404 });
      } catch (error) {
        // The library's own error answer, as its adapters send it.
        response = handleVanillaError(error);
      }
      res.writeHead(response.status, { "content-type": "application/json", ...response.headers });
      res.end(JSON.stringify(response.body));
    })().catch(() => res.writeHead(500).end());
  };
  // This test's own calls authenticate in the body, which this server reads for any client and any secret.
  const asApp = (client: AppClient) => ({ client_id: client.clientId, client_secret: client.clientSecret });
  const server: RealServer = {
    name: `@jmondi/oauth2-server, ${clientAuth}`,
    door,
    tokenUrl: `${door.url}/token`,
    clientAuth,
    accessLifetimeSeconds,
    async connect(client) {
      // The authorization request with PKCE (S256), which this server requires by default.
      const verifier = randomBytes(32).toString("base64url");
      const state = randomBytes(8).toString("hex");
      const authorize = new URL("/authorize", door.url);
      authorize.search = new URLSearchParams({
        response_type: "code",
        client_id: client.clientId,
        redirect_uri: REDIRECT_URI,
        scope: "profile",
        state,
        code_challenge: createHash("sha256").update(verifier).digest("base64url"),
        code_challenge_method: "S256",
      }).toString();
      const response = await fetch(authorize, { redirect: "manual", headers: { "x-signed-in-person": uniqueName("person") } });
      await response.arrayBuffer();
      const back = new URL(response.headers.get("location") ?? "", REDIRECT_URI);
      const code = back.searchParams.get("code");
      if (response.status !== 302 || !code || back.searchParams.get("state") !== state) throw new Error(`authorize: HTTP ${response.status}`);
      return exchangeCode(server, client, code, { code_verifier: verifier });
    },
    async accepts(accessToken) {
      const response = await fetch(`${door.url}/resource`, { headers: { authorization: `Bearer ${accessToken}` } });
      await response.arrayBuffer();
      return response.status === 200;
    },
    tokenRequest: (client, params) => post(`${door.url}/token`, { ...params, ...asApp(client) }),
    async revoke(refreshToken) {
      // RFC 7009 revocation of the refresh token, by the app it was issued to (this server checks): its record, the
      // grant's only live one since each refresh revoked the one before, is revoked. The answer is 200 either way.
      const clientId = (jwt.decode(refreshToken) as { client_id?: string } | null)?.client_id;
      const app = APPS.find((candidate) => candidate.clientId === clientId);
      if (!app) throw new Error("revoke: not a refresh token of these apps");
      const { status } = await post(`${door.url}/token/revoke`, { token: refreshToken, token_type_hint: "refresh_token", ...asApp(app) });
      if (status !== 200) throw new Error(`revocation: HTTP ${status}`);
    },
    close: () => door.close(),
  };
  return server;
}

function bodyOf(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (text += chunk));
    req.on("end", () => resolve(text));
    req.on("error", reject);
  });
}

/** The provider entry of createRefresca's `providers` option for this server and app. */
function providerEntry(server: RealServer, id: string, client: AppClient): OAuth2ProviderInput {
  return {
    id,
    displayName: server.name,
    tokenUrl: server.tokenUrl,
    clientAuth: server.clientAuth,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    rotatesRefreshToken: true,
  };
}

interface Channel {
  tenantId: string;
  id: string;
  tokens: Tokens;
}

const silent = createLogger({ level: "silent" });
/** The scheduler looks 1 s ahead every 200 ms: a channel expiring in seconds is refreshed without a manual call. */
const FAST_QUEUE = { schedulerIntervalMs: 200, claimAheadMs: 1000, claimLeaseMs: 2000 };

/** A real server to run the scenario against, and what it is known to do where servers differ. */
interface Subject {
  /** The channel type of its provider entry. */
  providerId: string;
  start(): Promise<RealServer>;
  /** Whether presenting a spent refresh token also revokes the grant (reuse detection) rather than only failing. */
  reuseRevokesGrant: boolean;
  /**
   * What the server does with Basic credentials that RFC 6749 §2.3.1 form-encoding changes: decodes them, or takes
   * them as sent (then Refresca's first refresh is refused as invalid_client and repeated once unencoded), or takes
   * them as sent with the secret cut at its first colon (then a secret with a ":" is refused in either form: RFC 7617
   * §2 allows colons in the password, this server drops what follows).
   */
  basicCredentials: "decoded" | "as sent" | "as sent, cut at a colon";
  /** The error answer to a spent or revoked refresh token; RFC 6749 §5.2's `{ error: "invalid_grant" }` if unset. */
  refusedRefreshToken?: Record<string, string>;
}

/** The same checks against any real server: one describe each. */
function realServerScenario(subject: Subject) {
  const { providerId } = subject;
  let server: RealServer;
  let h: Harness;
  /** Every token value seen, to check the logs hold none. */
  const seen = new Set<string>();

  beforeAll(async () => {
    server = await subject.start();
    h = await startHarness({
      refresca: {
        providers: [
          providerEntry(server, providerId, PLAIN),
          ...CHANGED_BY_ENCODING.map((secret) => providerEntry(server, `${providerId}-${secret.suffix}`, secret.client)),
        ],
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    await server?.close();
  });

  /** Connects a person at the server and stores the channel holding the tokens it issued. */
  async function connect(refresca: Refresca = h.refresca, options: { type?: string; client?: AppClient; tenantId?: string } = {}): Promise<Channel> {
    const tokens = await server.connect(options.client ?? PLAIN);
    seen.add(tokens.accessToken).add(tokens.refreshToken);
    const tenantId = options.tenantId ?? h.tenant();
    const saved = await refresca.channels.upsert({
      tenantId,
      type: options.type ?? providerId,
      displayName: "Real server channel",
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt: tokens.expiresAt.toISOString(),
    });
    if (!saved.success) throw new Error(`upsert: ${saved.error}`);
    return { tenantId, id: saved.channel.id, tokens };
  }
  const refresh = (channel: Channel, refresca: Refresca = h.refresca) =>
    refresca.refreshChannelToken({ tenantId: channel.tenantId, channelId: channel.id });
  const row = async (channel: Channel) =>
    (await h.sql("select status, expires_at, next_refresh_at, not_before, last_error_code from channels where tenant_id = $1 and id = $2", [
      channel.tenantId,
      channel.id,
    ]))[0];
  /** The credentials Refresca holds for the channel, decrypted. */
  async function stored(channel: Channel) {
    const [found] = await h.sql("select credentials from channels where tenant_id = $1 and id = $2", [channel.tenantId, channel.id]);
    const credentials = h.refresca.internals.keyRing.decrypt(found.credentials, { tenantId: channel.tenantId, channelId: channel.id });
    seen.add(credentials.accessToken);
    if (credentials.refreshToken) seen.add(credentials.refreshToken);
    return credentials;
  }
  /** The expiry Refresca stored must be the server's expires_in counted from the refresh (not a default). */
  function expectServerExpiry(expiresAt: Date | string, before: number, after: number) {
    const at = new Date(expiresAt).getTime();
    expect(at).toBeGreaterThanOrEqual(before + (server.accessLifetimeSeconds - 2) * 1000);
    expect(at).toBeLessThanOrEqual(after + server.accessLifetimeSeconds * 1000 + 1000);
  }

  it("refreshes with the server's tokens and keeps the rotation: each refresh presents the latest refresh token", async () => {
    const channel = await connect();
    expect(await server.accepts(channel.tokens.accessToken)).toBe(true);
    const spent: string[] = [];
    let previous = { accessToken: channel.tokens.accessToken, refreshToken: channel.tokens.refreshToken };
    const calls = server.door.tokenCalls;
    for (let round = 0; round < 3; round++) {
      const before = Date.now();
      const answer = await refresh(channel);
      const after = Date.now();
      expect(answer).toMatchObject({ success: true });
      expectServerExpiry((answer as { newExpiresAt: string }).newExpiresAt, before, after);
      expectServerExpiry((await row(channel)).expires_at, before, after);

      const read = await h.refresca.getAccessToken({ tenantId: channel.tenantId, channelId: channel.id });
      expect(read).toMatchObject({ success: true, refreshed: false });
      const accessToken = (read as { accessToken: string }).accessToken;
      expect(accessToken).not.toBe(previous.accessToken);
      // The token handed out is the server's, and it works there.
      expect(await server.accepts(accessToken)).toBe(true);

      const now = await stored(channel);
      expect(now.accessToken).toBe(accessToken);
      expect(now.refreshToken).toBeTruthy();
      expect(now.refreshToken).not.toBe(previous.refreshToken);
      spent.push(previous.refreshToken);
      previous = { accessToken, refreshToken: now.refreshToken! };
    }
    // One call per refresh, no retry: each was accepted the first time, so each presented the token the server expected.
    expect(server.door.tokenCalls - calls).toBe(3);

    // Every refresh token Refresca has spent is refused now: presenting one again instead of the stored one would fail.
    for (const token of spent) {
      expect(await server.tokenRequest(PLAIN, { grant_type: "refresh_token", refresh_token: token })).toMatchObject({
        status: 400,
        json: subject.refusedRefreshToken ?? { error: "invalid_grant" },
      });
    }
    // oidc-provider takes a spent token's reuse for theft and revokes the grant (RFC 9700 §4.14.2); both oauth2-server
    // packages only refuse it, and the channel's current token still works.
    if (subject.reuseRevokesGrant) {
      expect(await refresh(channel)).toMatchObject({ success: false, code: "INVALID_CREDENTIALS" });
      expect((await row(channel)).status).toBe("needs_reauth");
    } else {
      expect(await refresh(channel)).toMatchObject({ success: true });
    }
  });

  it("a grant revoked at the server: INVALID_CREDENTIALS and needs_reauth, then NEEDS_REAUTH without calling it", async () => {
    const channel = await connect();
    await server.revoke((await stored(channel)).refreshToken!);
    expect(await server.accepts(channel.tokens.accessToken)).toBe(false);
    const calls = server.door.tokenCalls;
    expect(await refresh(channel)).toMatchObject({ success: false, code: "INVALID_CREDENTIALS" });
    expect(server.door.tokenCalls).toBe(calls + 1);
    expect(await row(channel)).toMatchObject({ status: "needs_reauth", last_error_code: "INVALID_CREDENTIALS", next_refresh_at: null });
    expect(await refresh(channel)).toMatchObject({ success: false, code: "NEEDS_REAUTH" });
    expect(await h.refresca.getAccessToken({ tenantId: channel.tenantId, channelId: channel.id })).toMatchObject({ success: false, code: "NEEDS_REAUTH" });
    expect(server.door.tokenCalls).toBe(calls + 1);
  });

  it("a wrong client secret: the app is rejected, the channel stays active, and its grant is untouched", async () => {
    const channel = await connect();
    const wrong = await createRefresca({
      ...h.options,
      providers: [{ ...providerEntry(server, providerId, PLAIN), clientSecret: "Not-The-Secret" }],
      logger: silent,
    });
    try {
      const calls = server.door.tokenCalls;
      const answer = await refresh(channel, wrong);
      expect(answer).toMatchObject({ success: false });
      expect(server.door.tokenCalls).toBe(calls + 1);
      expect(["APP_CREDENTIALS_REJECTED"]).toContain((answer as { code: string }).code);
      expect(await row(channel)).toMatchObject({ status: "active" });
    } finally {
      await wrong.close();
    }
    // The server refused the client before looking at the grant: the channel refreshes with the right secret.
    expect(await refresh(channel)).toMatchObject({ success: true });
  });

  it.each(CHANGED_BY_ENCODING)(`a client secret that form-encoding changes (RFC 6749 §2.3.1), $what: ${subject.basicCredentials}`, async (secret) => {
    const channel = await connect(h.refresca, { type: `${providerId}-${secret.suffix}`, client: secret.client });
    const basic = server.clientAuth === "client_secret_basic";
    if (basic && subject.basicCredentials === "as sent, cut at a colon" && secret.client.clientSecret.includes(":")) {
      // Refused encoded, then as sent: the app is rejected (only client_secret_post can carry this secret there).
      const before = server.door.tokenCalls;
      expect(await refresh(channel)).toMatchObject({ success: false, code: "APP_CREDENTIALS_REJECTED" });
      expect(server.door.tokenCalls - before).toBe(2);
      expect(await row(channel)).toMatchObject({ status: "active" });
      return;
    }
    const retried = basic && subject.basicCredentials !== "decoded";
    for (const [round, calls] of [[1, retried ? 2 : 1], [2, 1]] as const) {
      const before = server.door.tokenCalls;
      expect(await refresh(channel), `refresh ${round}`).toMatchObject({ success: true });
      // Refused encoded then accepted as sent the first time; the provider then keeps sending what worked.
      expect(server.door.tokenCalls - before, `token calls of refresh ${round}`).toBe(calls);
      expect(await server.accepts((await stored(channel)).accessToken)).toBe(true);
    }
    expect(await row(channel)).toMatchObject({ status: "active" });
  });

  it("configured through REFRESCA_PROVIDERS_FILE (YAML) and createRefrescaFromEnv, credentials from the named variables", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "refresca-real-providers-"));
    const schema = uniqueName("env");
    const keyPrefix = `${uniqueName("env")}:`;
    const file = path.join(dir, "providers.yaml");
    writeFileSync(
      file,
      [
        "providers:",
        `  - id: ${providerId}`,
        `    displayName: "${server.name}"`,
        `    tokenUrl: ${server.tokenUrl}`,
        `    clientAuth: ${server.clientAuth}`,
        "    clientIdEnv: REAL_SERVER_CLIENT_ID",
        "    clientSecretEnv: REAL_SERVER_CLIENT_SECRET",
        "    rotatesRefreshToken: true",
        "",
      ].join("\n"),
    );
    const refresca = await createRefrescaFromEnv({ logger: silent }, {
      DATABASE_URL: TEST_DATABASE_URL,
      REDIS_URL: TEST_REDIS_URL,
      REFRESCA_ENCRYPTION_KEYS: TEST_KEYS,
      REFRESCA_DB_SCHEMA: schema,
      REFRESCA_KEY_PREFIX: keyPrefix,
      REFRESCA_PROVIDERS_FILE: file,
      REAL_SERVER_CLIENT_ID: PLAIN.clientId,
      REAL_SERVER_CLIENT_SECRET: PLAIN.clientSecret,
    });
    try {
      expect(refresca.platformIds).toContain(providerId);
      const channel = await connect(refresca);
      const before = Date.now();
      const answer = await refresh(channel, refresca);
      expect(answer).toMatchObject({ success: true });
      expectServerExpiry((answer as { newExpiresAt: string }).newExpiresAt, before, Date.now());
      const read = await refresca.getAccessToken({ tenantId: channel.tenantId, channelId: channel.id });
      expect((read as { accessToken: string }).accessToken).not.toBe(channel.tokens.accessToken);
      expect(await server.accepts((read as { accessToken: string }).accessToken)).toBe(true);
      expect(await refresh(channel, refresca)).toMatchObject({ success: true });
    } finally {
      await refresca.close();
      const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
      await pool.query(`drop schema if exists "${schema}" cascade`);
      await pool.end();
      await deleteKeys(keyPrefix);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the worker refreshes a channel expiring soon against the server, without a manual call", async () => {
    const own = await startHarness({ refresca: { providers: [providerEntry(server, providerId, PLAIN)], queue: FAST_QUEUE } });
    try {
      await own.refresca.startWorker();
      const tokens = await server.connect(PLAIN);
      seen.add(tokens.accessToken).add(tokens.refreshToken);
      const tenantId = own.tenant();
      // Stored as expiring in 6 s: its refresh is planned a quarter of that before expiry.
      const saved = await own.refresca.channels.upsert({
        tenantId,
        type: providerId,
        displayName: "Expiring soon",
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
        expiresAt: new Date(Date.now() + 6000).toISOString(),
      });
      if (!saved.success) throw new Error(saved.error);
      const refreshed = await waitFor("the scheduled refresh", async () => {
        const [event] = await own.sql("select trigger, outcome, error_code from refresh_events where tenant_id = $1", [tenantId]);
        return event as { trigger: string; outcome: string; error_code: string | null } | undefined;
      }, 20_000);
      expect(refreshed).toEqual({ trigger: "expiry", outcome: "success", error_code: null });
      const read = await own.refresca.getAccessToken({ tenantId, channelId: saved.channel.id });
      expect(read).toMatchObject({ success: true });
      const accessToken = (read as { accessToken: string }).accessToken;
      seen.add(accessToken);
      expect(accessToken).not.toBe(tokens.accessToken);
      expect(await server.accepts(accessToken)).toBe(true);
      // The new expiry is the server's, so nothing is due for a long while.
      expect(new Date((read as { expiresAt: string }).expiresAt).getTime()).toBeGreaterThan(Date.now() + (server.accessLifetimeSeconds - 60) * 1000);
    } finally {
      await own.close();
    }
  });

  // Last of the calls: the throttle holds the provider's whole app for 30 s.
  it("honours a 429 with Retry-After: no token-endpoint call before then, for this channel or any other of the provider", async () => {
    const first = await connect();
    const sameTenant = await connect(h.refresca, { tenantId: first.tenantId });
    const otherTenant = await connect();
    server.door.throttle = { retryAfterSeconds: 30 };
    try {
      const calls = server.door.tokenCalls;
      const before = Date.now();
      const answer = await refresh(first);
      expect(answer).toMatchObject({ success: false, code: "RATE_LIMITED" });
      const wait = (answer as { retryAfterSeconds: number }).retryAfterSeconds;
      expect(wait).toBeGreaterThanOrEqual(29);
      expect(wait).toBeLessThanOrEqual(31);
      expect(server.door.tokenCalls).toBe(calls + 1);

      // The channel's plan in SQL waits for it, and so does the provider's app (platform_throttles).
      const planned = await row(first);
      expect(planned.status).toBe("active");
      expect(planned.not_before.getTime()).toBeGreaterThanOrEqual(before + 29_000);
      expect(planned.next_refresh_at.getTime()).toBeGreaterThanOrEqual(planned.not_before.getTime());
      const [app] = await h.sql("select not_before from platform_throttles where platform = $1", [providerId]);
      expect(app.not_before.getTime()).toBeGreaterThanOrEqual(before + 29_000);

      // Again, another channel of the provider, and a batch: answered without calling the token endpoint.
      expect(await refresh(first)).toMatchObject({ success: false, code: "RATE_LIMITED" });
      const other = await refresh(otherTenant);
      expect(other).toMatchObject({ success: false, code: "RATE_LIMITED" });
      expect((other as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThanOrEqual(25);
      const batch = await h.refresca.refreshMultipleChannelTokens({ tenantId: first.tenantId, channelIds: [first.id, sameTenant.id] });
      expect(batch).toMatchObject({ success: true, processed: 2, succeeded: 0 });
      for (const result of (batch as { results: Array<{ code?: string; retryAfterSeconds?: number }> }).results) {
        expect(result.code).toBe("RATE_LIMITED");
        expect(result.retryAfterSeconds).toBeGreaterThanOrEqual(25);
      }
      expect(server.door.tokenCalls).toBe(calls + 1);
    } finally {
      server.door.throttle = null;
    }
  });

  it("logs no token value", () => {
    expect(seen.size).toBeGreaterThan(0);
    const logs = h.logs.join("\n");
    for (const token of seen) expect(logs.includes(token)).toBe(false);
  });
}

describe("a real OAuth 2.0 server: oidc-provider (client_secret_basic, rotateRefreshToken)", () => {
  // oidc-provider form-decodes Basic credentials, and takes a spent refresh token's reuse for theft (RFC 9700 §4.14.2).
  realServerScenario({ providerId: "oidc-provider", start: startOidcProvider, reuseRevokesGrant: true, basicCredentials: "decoded" });
});

describe.each(["client_secret_basic", "client_secret_post"] as const)(
  "a real OAuth 2.0 server: @node-oauth/oauth2-server (%s, alwaysIssueNewRefreshToken, single-use refresh tokens)",
  (clientAuth) => {
    realServerScenario({
      providerId: clientAuth === "client_secret_basic" ? "node-oauth-basic" : "node-oauth-post",
      start: () => startNodeOAuth2Server(clientAuth),
      reuseRevokesGrant: false,
      // It takes Basic credentials as they come (the basic-auth package), without form-decoding them; in the body the
      // form is decoded like any other parameter.
      basicCredentials: "as sent",
    });
  },
);

describe.each(["client_secret_basic", "client_secret_post"] as const)(
  "a real OAuth 2.0 server: @jmondi/oauth2-server (%s, authorization code with PKCE, refresh tokens always rotated)",
  (clientAuth) => {
    realServerScenario({
      providerId: clientAuth === "client_secret_basic" ? "jmondi-basic" : "jmondi-post",
      start: () => startJmondiOAuth2Server(clientAuth),
      // A spent refresh token is refused, nothing more.
      reuseRevokesGrant: false,
      // Basic credentials taken as sent, split at every colon keeping two parts (AbstractGrant.getBasicAuthCredentials).
      basicCredentials: "as sent, cut at a colon",
      // RefreshTokenGrant.validateOldRefreshToken throws OAuthException.invalidParameter for these, not invalidGrant.
      refusedRefreshToken: { error: "invalid_request", error_description: "Token has been revoked" },
    });
  },
);
