import type { AddressInfo } from "node:net";
import { readFile } from "node:fs/promises";
import { serve, type ServerType } from "@hono/node-server";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi, createRefrescaApi } from "../src/api";
import { API_ROUTES } from "../src/api/routes";
import type { ApiScope } from "../src/core/access/scopes";
import { API_SCOPES } from "../src/core/access/scopes";
import { createClient, type RefrescaClient } from "../src/client";
import { generatedClientFiles } from "../scripts/generate-client";
import { startHarness, type Harness } from "./support/harness";

let h: Harness;
let server: ServerType;
let baseUrl: string;

beforeAll(async () => {
  // Latency keeps one refresh in flight while the concurrent readers pile up behind it.
  h = await startHarness({
    simulator: { latencyMs: 200 },
    refresca: { apiRateLimit: { perSecond: 1000, burst: 5000 }, webhooks: { allowPrivate: true } },
  });
  const api = createRefrescaApi(h.refresca);
  server = serve({ fetch: api.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await h?.close();
});

async function keyFor(scopes: ApiScope[] = [...API_SCOPES], tenantId?: string): Promise<string> {
  const made = await h.refresca.apiKeys.create({ name: "test", scopes, ...(tenantId && { tenantId }) });
  if (!made.success) throw new Error(made.error);
  return made.apiKey;
}

const clientFor = (apiKey: string): RefrescaClient => createClient({ baseUrl, apiKey });

function call(path: string, init: RequestInit & { key?: string } = {}) {
  const { key, ...rest } = init;
  return fetch(`${baseUrl}${path}`, {
    ...rest,
    headers: { ...(key && { authorization: `Bearer ${key}` }), ...(rest.body ? { "content-type": "application/json" } : {}), ...rest.headers },
  });
}

describe("the OpenAPI document", () => {
  it("is served without a key, is valid OpenAPI 3.1, lists every route, and matches the committed client files", async () => {
    const res = await call("/api/v1/openapi.json");
    expect(res.status).toBe(200);
    const document = await res.json();
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe("3.1.0");
    const listed = Object.entries(document.paths as Record<string, object>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method} ${path}`),
    );
    expect(listed.sort()).toEqual(API_ROUTES.map((route) => `${route.method} /api/v1${route.path}`).sort());

    const generated = await generatedClientFiles();
    expect(JSON.parse(await readFile("src/client/openapi.json", "utf8")), "run npm run generate:client").toEqual(document);
    expect(await readFile("src/client/openapi.d.ts", "utf8"), "run npm run generate:client").toBe(generated.types);
  });

  it("every route it lists answers as it says: documented status and a body matching the documented schema", async () => {
    const document = await (await call("/api/v1/openapi.json")).json();
    // The document's own schemas, $refs and all, checked by a JSON Schema 2020-12 validator (OpenAPI 3.1's dialect).
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema({ $id: "doc", components: JSON.parse(JSON.stringify(document.components).replaceAll('"#/components/', '"doc#/components/')) });
    const schemaOf = (operation: { responses: Record<string, { content: { "application/json": { schema: object } } }> }, status: string) =>
      JSON.parse(JSON.stringify(operation.responses[status]!.content["application/json"].schema).replaceAll('"#/components/', '"doc#/components/'));

    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    const key = await keyFor();
    // A webhook endpoint and a delivery for the webhook routes (no worker runs here: nothing is sent).
    const hook = await h.refresca.webhooks.add({ tenantId, url: "https://hooks.example.com/route-check" });
    if (!hook.success) throw new Error(hook.error);
    const delivery = await h.refresca.webhooks.test({ tenantId, endpointId: hook.endpoint.id });
    if (!delivery.success) throw new Error(delivery.error);
    const bodies: Record<string, unknown> = {
      upsertChannel: { type: "instagram", displayName: "Shop", accessToken: "ig-token-for-the-route-check", expiresAt: null },
      refreshMultipleChannelTokens: { channelIds: [channel.id] },
      scheduleChannelTokenRefresh: { delayMinutes: 30 },
      scheduleRecurringTokenRefresh: { intervalMinutes: 60 },
      addWebhook: { url: "https://hooks.example.com/another", events: ["channel.needs_reauth"] },
      updateWebhook: { events: ["channel.needs_reauth", "channel.recovered"] },
    };
    // Order matters only for the two that need the other: the upsert's channel is removed, the schedule cancelled.
    const order = [...API_ROUTES].sort((a, b) => Number(a.method === "delete") - Number(b.method === "delete"));
    for (const route of order) {
      const channelId = route.operationId === "upsertChannel" || route.operationId === "removeChannel" ? "ig_routes" : channel.id;
      const path = `/api/v1${route.path}`
        .replace("{tenantId}", tenantId)
        .replace("{channelId}", channelId)
        .replace("{endpointId}", hook.endpoint.id)
        .replace("{deliveryId}", delivery.deliveryId);
      const body = bodies[route.operationId];
      const res = await call(path, { method: route.method.toUpperCase(), key, ...(body !== undefined && { body: JSON.stringify(body) }) });
      const answer = await res.json();
      expect({ route: route.operationId, status: res.status, answer }).toMatchObject({ status: 200, answer: { success: true } });
      const operation = document.paths[`/api/v1${route.path}`][route.method];
      const validate = ajv.compile(schemaOf(operation, "200"));
      expect({ route: route.operationId, errors: validate(answer) ? null : validate.errors }).toEqual({ route: route.operationId, errors: null });
    }
    // And a failure is the documented Failure.
    const missing = await call(`/api/v1/tenants/${tenantId}/channels/nope`, { key });
    expect(missing.status).toBe(404);
    const validate = ajv.compile(schemaOf(document.paths["/api/v1/tenants/{tenantId}/channels/{channelId}"].get, "default"));
    expect(validate(await missing.json())).toBe(true);
  });

  it("has a readable reference page at /api/docs, served without a CDN", async () => {
    const page = await call("/api/docs");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("/api/v1/openapi.json");
    const script = /src="([^"]+swagger-ui-bundle\.js)"/.exec(html)![1]!;
    const asset = await call(script);
    expect(asset.status).toBe(200);
    expect((await asset.text()).length).toBeGreaterThan(100_000);
  });
});

describe("reading tokens over REST", () => {
  it("answers the stored token of a fresh channel with no platform call, never cached, audited under the key", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600, meta: { pageId: "p1" } });
    const key = await keyFor(["tokens:read"]);
    const before = (await h.simulator.stats()).calls.tiktok;
    const res = await call(`/api/v1/tenants/${tenantId}/channels/${channel.id}/token`, { key });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const answer = await res.json();
    expect(answer).toMatchObject({ success: true, channelId: channel.id, channelType: "tiktok", accessToken: channel.accessToken, refreshed: false });
    expect(answer.meta).toMatchObject({ pageId: "p1" });
    expect((await h.simulator.stats()).calls.tiktok).toBe(before);

    const principal = await h.refresca.apiKeys.authenticate(key);
    await h.refresca.internals.tokenReads.flush();
    const audit = await h.refresca.audit({ tenantId, channelId: channel.id });
    expect(audit.success && audit.reads.some((row) => row.reader === principal!.keyId && row.reads >= 1)).toBe(true);
  });

  it("refreshes an expiring channel once for 200 concurrent REST readers, all answered the new token", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 120 });
    const client = clientFor(await keyFor(["tokens:read"]));
    const before = await h.simulator.stats();
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => client.getAccessToken({ tenantId, channelId: channel.id, minValidityMinutes: 5 })),
    );
    const tokens = new Set(answers.map((answer) => (answer.success ? answer.accessToken : answer.code)));
    expect(tokens.size).toBe(1);
    expect([...tokens][0]).not.toBe(channel.accessToken);
    expect(answers.every((answer) => answer.success)).toBe(true);
    const after = await h.simulator.stats();
    expect(after.calls.tiktok - before.calls.tiktok).toBe(1);
    expect(after.reuseDetected).toBe(0);
  });

  it("a revoked channel answers its failure, then NEEDS_REAUTH without a platform call", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    await h.simulator.revoke(channel.refreshToken!);
    const client = clientFor(await keyFor());
    const refreshed = await client.refreshChannelToken({ tenantId, channelId: channel.id });
    expect(refreshed).toMatchObject({ success: false, code: "INVALID_CREDENTIALS" });
    const calls = (await h.simulator.stats()).calls.tiktok;
    const res = await call(`/api/v1/tenants/${tenantId}/channels/${channel.id}/token`, { key: await keyFor(["tokens:read"]) });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ success: false, code: "NEEDS_REAUTH" });
    expect((await h.simulator.stats()).calls.tiktok).toBe(calls);
  });
});

describe("the typed client's webhook methods", () => {
  it("adds (secret once), lists, gets, updates, tests, lists deliveries and removes an endpoint by name", async () => {
    const tenantId = h.tenant();
    await h.addChannel({ tenantId, platform: "tiktok" });
    const client = clientFor(await keyFor(["webhooks:write"]));
    const added = await client.webhooks.add({ tenantId, url: "http://127.0.0.1:9/hooks", events: ["channel.needs_reauth"] });
    if (!added.success) throw new Error(added.error);
    expect(added.secret).toMatch(/^whsec_/);
    const endpointId = added.endpoint.id;
    const listed = await client.webhooks.list({ tenantId });
    expect(listed).toMatchObject({ success: true, endpoints: [{ id: endpointId, url: "http://127.0.0.1:9/hooks" }] });
    expect(JSON.stringify(listed)).not.toContain(added.secret);
    expect(await client.webhooks.update({ tenantId, endpointId, enabled: false })).toMatchObject({ success: true, endpoint: { enabled: false } });
    expect(await client.webhooks.get({ tenantId, endpointId })).toMatchObject({ success: true, endpoint: { id: endpointId, enabled: false } });
    expect(await client.webhooks.test({ tenantId, endpointId })).toMatchObject({ success: false, error: expect.stringMatching(/disabled/) });
    expect(await client.webhooks.update({ tenantId, endpointId, enabled: true })).toMatchObject({ success: true, endpoint: { enabled: true } });
    const test = await client.webhooks.test({ tenantId, endpointId });
    if (!test.success) throw new Error(test.error);
    const deliveries = await client.webhooks.deliveries({ tenantId, endpointId, limit: 5 });
    expect(deliveries).toMatchObject({ success: true, deliveries: [{ id: test.deliveryId, type: "webhook.test" }] });
    const unknown = test.deliveryId.replace(/.$/, (last) => (last === "0" ? "1" : "0"));
    expect(await client.webhooks.redeliver({ tenantId, endpointId, deliveryId: unknown })).toMatchObject({ success: false, code: "NOT_FOUND" });
    expect(await client.webhooks.remove({ tenantId, endpointId })).toMatchObject({ success: true });
    expect(await client.webhooks.get({ tenantId, endpointId })).toMatchObject({ success: false, code: "NOT_FOUND" });
    // Without the scope: refused, by name too.
    expect(await clientFor(await keyFor(["channels:read"])).webhooks.list({ tenantId })).toMatchObject({ success: false, code: "FORBIDDEN" });
  });
});

describe("keys, scopes and tenants", () => {
  it("refuses a request without a key, with an unknown key, and with a revoked key: 401 in JSON", async () => {
    const tenantId = h.tenant();
    const path = `/api/v1/tenants/${tenantId}/statistics`;
    const none = await call(path);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect(await none.json()).toMatchObject({ success: false, code: "UNAUTHORIZED" });
    expect((await call(path, { key: "rka_" + "x".repeat(43) })).status).toBe(401);
    const key = await keyFor();
    const principal = await h.refresca.apiKeys.authenticate(key);
    await h.refresca.apiKeys.revoke({ id: principal!.keyId });
    expect((await call(path, { key })).status).toBe(401);
  });

  it("never hands a token to a key without tokens:read (the default scopes)", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 30 * 86_400 });
    const made = await h.refresca.apiKeys.create({ name: "default scopes" });
    if (!made.success) throw new Error(made.error);
    const res = await call(`/api/v1/tenants/${tenantId}/channels/${channel.id}/token`, { key: made.apiKey });
    expect(res.status).toBe(403);
    const text = await res.text();
    expect(text).toContain("tokens:read");
    expect(text).not.toContain(channel.accessToken);
    // Its other answers about the channel carry no token either.
    const got = await (await call(`/api/v1/tenants/${tenantId}/channels/${channel.id}`, { key: made.apiKey })).text();
    expect(got).toContain(channel.id);
    expect(got).not.toContain(channel.accessToken);
  });

  it("a key of tenant B asking for tenant A gets 403 and nothing is read, written or audited", async () => {
    const tenantA = h.tenant();
    const tenantB = h.tenant();
    const channel = await h.addChannel({ tenantId: tenantA, platform: "tiktok", expiresInSeconds: 60 });
    const keyB = await keyFor([...API_SCOPES], tenantB);
    const before = (await h.simulator.stats()).calls.tiktok;
    const paths: Array<[string, string, unknown?]> = [
      ["GET", `/api/v1/tenants/${tenantA}/channels/${channel.id}/token?minValidityMinutes=30`],
      ["POST", `/api/v1/tenants/${tenantA}/channels/${channel.id}/refresh`],
      ["DELETE", `/api/v1/tenants/${tenantA}/channels/${channel.id}`],
      ["PUT", `/api/v1/tenants/${tenantA}/channels/intruder`, { type: "tiktok", displayName: "x", accessToken: "y" }],
      ["GET", `/api/v1/tenants/${tenantA}/channels`],
    ];
    for (const [method, path, body] of paths) {
      const res = await call(path, { method, key: keyB, ...(body !== undefined && { body: JSON.stringify(body) }) });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
      const text = await res.text();
      expect(text).toContain("FORBIDDEN");
      expect(text).not.toContain(channel.accessToken);
    }
    expect((await h.simulator.stats()).calls.tiktok).toBe(before);
    expect(await h.sql("select id from channels where tenant_id = $1 order by id", [tenantA])).toEqual([{ id: channel.id }]);
    await h.refresca.internals.tokenReads.flush();
    expect(await h.sql("select * from token_reads where tenant_id = $1", [tenantA])).toEqual([]);
    // The same key works for its own tenant.
    expect((await call(`/api/v1/tenants/${tenantB}/channels`, { key: keyB })).status).toBe(200);
  });

  it("answers 429 with Retry-After once a key has spent its budget, shared by every API instance", async () => {
    const limited = await startHarness({ refresca: { apiRateLimit: { perSecond: 1, burst: 3 } } });
    const servers = [createRefrescaApi(limited.refresca), createRefrescaApi(limited.refresca)];
    try {
      const made = await limited.refresca.apiKeys.create({ name: "limited" });
      if (!made.success) throw new Error(made.error);
      const tenantId = limited.tenant();
      const request = (index: number) =>
        servers[index % 2]!.request(`/api/v1/tenants/${tenantId}/channels`, { headers: { authorization: `Bearer ${made.apiKey}` } });
      const statuses = [];
      for (let index = 0; index < 5; index++) statuses.push((await request(index)).status);
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      const refused = await request(5);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await refused.json()).toMatchObject({ success: false, code: "RATE_LIMITED" });
    } finally {
      await limited.close();
    }
  });
});

describe("when Redis is away", () => {
  it("still hands out tokens: the rate limit lets requests through rather than stop the product", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 30 * 86_400 });
    const key = await keyFor(["tokens:read"]);
    const api = createApi({
      refresca: h.refresca,
      authenticate: (text) => h.refresca.apiKeys.authenticate(text),
      rateLimit: () => Promise.reject(new Error("Connection is closed.")),
      logger: h.refresca.internals.logger,
    });
    const res = await api.request(`/api/v1/tenants/${tenantId}/channels/${channel.id}/token`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ success: true, accessToken: channel.accessToken });
  });
});

describe("input and errors", () => {
  it("answers malformed input with 400 INVALID_INPUT naming the field, and changes nothing", async () => {
    const tenantId = h.tenant();
    const key = await keyFor();
    const channelPath = `/api/v1/tenants/${tenantId}/channels/ch1`;
    const cases: Array<[string, RequestInit, RegExp]> = [
      [channelPath, { method: "PUT", body: "{not json" }, /JSON/i],
      [channelPath, { method: "PUT", body: JSON.stringify({ type: "myspace", displayName: "x", accessToken: "y" }) }, /type/],
      [channelPath, { method: "PUT", body: JSON.stringify({ type: "tiktok", displayName: "x", accessToken: "y", tenantId: "other" }) }, /tenantId/],
      [channelPath, { method: "PUT", body: JSON.stringify({ type: "tiktok", displayName: "x", accessToken: "y", meta: { refresh_token: "z" } }) }, /meta/],
      [`${channelPath}/token?minValidityMinutes=abc`, {}, /minValidityMinutes/],
      [`${channelPath}/token?minValidityMinutes=-1`, {}, /minValidityMinutes/],
      [`/api/v1/tenants/${"x".repeat(300)}/channels`, {}, /tenantId/],
      [`/api/v1/tenants/${tenantId}/channels?limit=0`, {}, /limit/],
      [`/api/v1/tenants/${tenantId}/channels/ch1/scheduled-refreshes`, { method: "POST", body: JSON.stringify({ delayMinutes: "soon" }) }, /delayMinutes/],
    ];
    for (const [path, init, field] of cases) {
      const res = await call(path, { ...init, key });
      const answer = await res.json();
      expect({ path, status: res.status, code: answer.code }).toEqual({ path, status: 400, code: "INVALID_INPUT" });
      expect(answer.error).toMatch(field);
    }
    expect(await h.sql("select id from channels where tenant_id = $1", [tenantId])).toEqual([]);
    expect(await h.sql("select id from tenants where id = $1", [tenantId])).toEqual([]);
  });

  it("answers an unknown route 404, a wrong method 405 with Allow, and too large a body 413, all in JSON", async () => {
    const key = await keyFor();
    const unknown = await call("/api/v1/nothing-here", { key });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ success: false, code: "NOT_FOUND" });
    const wrong = await call("/api/v1/tenants/t1/statistics", { method: "POST", key });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toContain("GET");
    expect(await wrong.json()).toMatchObject({ success: false, code: "METHOD_NOT_ALLOWED" });
    const huge = await call("/api/v1/tenants/t1/channels/c1", {
      method: "PUT",
      key,
      body: JSON.stringify({ type: "tiktok", displayName: "x", accessToken: "y", localName: "z".repeat(100_000) }),
    });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ success: false, code: "PAYLOAD_TOO_LARGE" });
  });

  it("creates a tenant with a PUT, taking ids from the path, and lists and removes through the client", async () => {
    const tenantId = h.tenant();
    const client = clientFor(await keyFor());
    const put = await client.upsertChannel({ tenantId, channelId: "wa1", type: "whatsapp", displayName: "Support", accessToken: "wa-token", expiresAt: null });
    expect(put).toMatchObject({ success: true, channel: { id: "wa1", tenantId, type: "whatsapp" } });
    expect(JSON.stringify(put)).not.toContain("wa-token");
    const listed = await client.listChannels({ tenantId });
    expect(listed.success && listed.channels.map((channel) => channel.id)).toEqual(["wa1"]);
    expect(await client.removeChannel({ tenantId, channelId: "wa1" })).toMatchObject({ success: true, removed: true });
    expect(await client.getChannel({ tenantId, channelId: "wa1" })).toMatchObject({ success: false, code: "NOT_FOUND" });
  });
});
