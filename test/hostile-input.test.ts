import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRefrescaApi } from "../src/api";
import { API_SCOPES } from "../src/core/access/scopes";
import { PLATFORMS } from "../src/core/types";
import { ACME, startHarness, withConfiguredProvider, type Harness } from "./support/harness";
import {
  confusedTypes,
  hostileIds,
  operationInput,
  SPEC_OPERATIONS,
  survives,
  tenantIds,
  tenantSnapshot,
  type HostileIds,
  type Operation,
} from "./support/hostile";

// The attacked instance configures a generic OAuth 2.0 provider ("acme", served by the simulator) besides the four
// built-ins, and the victim holds an acme channel: a configured platform is attacked exactly like the built-ins.
// `plain` configures nothing: there "acme" is no channel type at all.
let h: Harness;
let plain: Harness;
let ids: HostileIds;
const servers: ServerType[] = [];

/** Serves the REST API of a harness's Refresca over real HTTP; answers its base URL. */
async function serveApi(harness: Harness): Promise<string> {
  const server = serve({ fetch: createRefrescaApi(harness.refresca).fetch, port: 0, hostname: "127.0.0.1" });
  servers.push(server);
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function keyFor(harness: Harness, tenantId: string, scopes = [...API_SCOPES]): Promise<string> {
  const made = await harness.refresca.apiKeys.create({ name: "hostile", scopes, tenantId });
  if (!made.success) throw new Error(made.error);
  return made.apiKey;
}

function call(baseUrl: string, key: string, method: string, path: string, body?: unknown) {
  return fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { "content-type": "application/json" }) },
    ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
}

/** Every column of one channel row: what "nothing was changed" compares. */
async function channelRow(harness: Harness, tenantId: string, channelId: string) {
  const rows = await harness.sql("select * from channels where tenant_id = $1 and id = $2", [tenantId, channelId]);
  expect(rows).toHaveLength(1);
  return rows[0];
}

const ALLOWED_WITH_ACME = `must be one of ${[...PLATFORMS, ACME.id].join(", ")}`;
const ALLOWED_BUILT_INS = `must be one of ${PLATFORMS.join(", ")}`;
// Token-like values the attacks carry: no answer may ever echo them.
const HOSTILE_ACCESS = "hostile-access-token-7f3a9c21";
const HOSTILE_REFRESH = "hostile-refresh-token-0b44e5d8";
const HOSTILE_SECRET = "hostile-meta-secret-5c2e11aa";

beforeAll(async () => {
  [h, plain] = await Promise.all([
    startHarness(withConfiguredProvider({ refresca: { apiRateLimit: { perSecond: 1000, burst: 5000 } } })),
    startHarness({ refresca: { apiRateLimit: { perSecond: 1000, burst: 5000 } } }),
  ]);
  ids = await hostileIds(h, { configured: ACME.id });
});
afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  await Promise.all([h?.close(), plain?.close()]);
});

// The library is a trusted caller: these inputs never name the victim tenant itself, only its channel ids and
// look-alikes of its tenant id.
describe("hostile input through createRefresca()", () => {
  it.each(SPEC_OPERATIONS)("%s answers success or { success: false, code } for 1,000 arbitrary inputs, and never touches another tenant", async (name) => {
    await survives(h, ids.victim, h.refresca[name] as Operation, operationInput(ids));
  }, 120_000);

  it.each(["upsert", "get", "list", "remove"] as const)("channels.%s survives 1,000 arbitrary inputs", async (name) => {
    const types = fc.oneof(fc.string(), fc.constantFrom(...PLATFORMS, ACME.id, ...confusedTypes(ACME.id)));
    const channelIds = fc.constantFrom(ids.victimChannel, ids.victimConfiguredChannel!, ids.attackerChannel);
    const channelLike = fc.record(
      { tenantId: tenantIds(ids, false), id: channelIds, type: types, displayName: fc.string(), accessToken: fc.string(), meta: fc.anything() },
      { requiredKeys: ["tenantId", "type", "displayName", "accessToken"] },
    );
    await survives(h, ids.victim, h.refresca.channels[name] as Operation, fc.oneof(operationInput(ids), channelLike));
  }, 120_000);
});

describe("a configured provider's channel type under attack", () => {
  it("an instance that does not configure acme refuses type acme (library, import, REST): INVALID_INPUT naming type and the allowed types, nothing stored", async () => {
    const tenantId = plain.tenant();
    const existing = await plain.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    const before = await channelRow(plain, tenantId, existing.id);
    const input = { tenantId, type: ACME.id, displayName: "Acme", accessToken: HOSTILE_ACCESS, refreshToken: HOSTILE_REFRESH };
    const fresh = plain.tenant();

    const answers: any[] = [
      await plain.refresca.channels.upsert({ ...input, tenantId: fresh }),
      await plain.refresca.channels.upsert({ ...input, id: existing.id }), // turning a TikTok channel into an acme one
    ];
    for (const answer of answers) {
      expect(answer).toMatchObject({ success: false, code: "INVALID_INPUT" });
      const error = (answer as { error: string }).error;
      expect(error).toContain(`type: ${ALLOWED_BUILT_INS}; got "acme"`);
      expect(error).not.toContain(", acme");
    }
    const imported = await plain.refresca.channels.import([{ ...input, tenantId: fresh }]);
    expect(imported).toEqual([{ index: 0, success: false, error: expect.stringContaining(`type: ${ALLOWED_BUILT_INS}; got "acme"`) }]);

    const baseUrl = await serveApi(plain);
    const key = await keyFor(plain, tenantId);
    for (const id of ["new-acme", existing.id]) {
      const res = await call(baseUrl, key, "PUT", `/tenants/${tenantId}/channels/${id}`, { type: ACME.id, displayName: "Acme", accessToken: HOSTILE_ACCESS });
      const answer = await res.json();
      expect({ status: res.status, answer }).toMatchObject({ status: 400, answer: { success: false, code: "INVALID_INPUT" } });
      expect(answer.error).toContain(`type: ${ALLOWED_BUILT_INS}; got "acme"`);
      answers.push(answer);
    }

    expect(JSON.stringify([answers, imported])).not.toMatch(/hostile-(access|refresh)/);
    expect(await channelRow(plain, tenantId, existing.id)).toEqual(before);
    expect(await plain.sql("select id from channels where tenant_id = $1", [tenantId])).toEqual([{ id: existing.id }]);
    expect(await plain.sql("select id from tenants where id = $1", [fresh])).toEqual([]);
    expect(await plain.sql("select id from channels where type = $1", [ACME.id])).toEqual([]);
  });

  it("refuses look-alikes of acme and of the built-ins (case, padding, NUL, homoglyphs, __proto__, 10 kB…) in the library, import and REST, changing nothing", async () => {
    const victimId = ids.victimConfiguredChannel!;
    const before = await channelRow(h, ids.victim, victimId);
    const snapshot = await tenantSnapshot(h, ids.victim);
    const baseUrl = await serveApi(h);
    const key = await keyFor(h, ids.victim);
    const fresh = h.tenant();
    const texts: string[] = [];

    for (const type of confusedTypes(ACME.id)) {
      const body = { type, displayName: "Spoof", accessToken: HOSTILE_ACCESS, refreshToken: HOSTILE_REFRESH };
      const library = await h.refresca.channels.upsert({ tenantId: ids.victim, id: victimId, ...body });
      const created = await h.refresca.channels.upsert({ tenantId: fresh, ...body });
      const [imported] = await h.refresca.channels.import([{ tenantId: ids.victim, id: victimId, ...body }]);
      const res = await call(baseUrl, key, "PUT", `/tenants/${ids.victim}/channels/${victimId}`, body);
      const rest = await res.json();
      for (const answer of [library, created, rest]) {
        expect({ type, answer }).toMatchObject({ type, answer: { success: false, code: "INVALID_INPUT" } });
        expect(answer.error).toContain(`type: ${ALLOWED_WITH_ACME}; got `);
        // A hostile value is never echoed whole: a short one escaped (a homoglyph shows as \uXXXX), a long one by length.
        expect(answer.error.length).toBeLessThan(300);
        expect(answer.error).not.toMatch(/[^\x20-\x7e]/);
      }
      expect(res.status).toBe(400);
      expect(imported).toMatchObject({ index: 0, success: false, error: expect.stringContaining(`type: ${ALLOWED_WITH_ACME}`) });
      texts.push(JSON.stringify([library, created, imported, rest]));
    }
    // The escaping makes look-alikes readable: the Cyrillic "а" of "аcmе" and the NUL are spelt out.
    expect(texts.join("\n")).toContain('got \\"\\\\u0430cm\\\\u0435\\"');
    expect(texts.join("\n")).toContain('got \\"acme\\\\u0000\\"');
    expect(texts.join("\n")).toContain("got a string of 10240 characters");
    expect(texts.join("\n")).not.toMatch(/hostile-(access|refresh)/);

    expect(await channelRow(h, ids.victim, victimId)).toEqual(before);
    expect(await tenantSnapshot(h, ids.victim)).toEqual(snapshot);
    expect(await h.sql("select id from tenants where id = $1", [fresh])).toEqual([]);
  }, 120_000);

  it("refuses bodies that smuggle a type through __proto__ or constructor, or give a type that is not a string", async () => {
    const victimId = ids.victimConfiguredChannel!;
    const before = await channelRow(h, ids.victim, victimId);
    const baseUrl = await serveApi(h);
    const key = await keyFor(h, ids.victim);
    const base = `"displayName":"Spoof","accessToken":"${HOSTILE_ACCESS}"`;
    const bodies = [
      `{"__proto__":{"type":"acme"},${base}}`,
      `{"constructor":{"prototype":{"type":"acme"}},${base}}`,
      `{"type":["acme"],${base}}`,
      `{"type":{"toString":"acme"},${base}}`,
      `{"type":null,${base}}`,
      `{"type":1,${base}}`,
      `{"type":"acme","type":"tiktok\\u0000",${base}}`,
    ];
    for (const body of bodies) {
      const res = await call(baseUrl, key, "PUT", `/tenants/${ids.victim}/channels/${victimId}`, body);
      const answer = await res.json();
      expect({ body, status: res.status, answer }).toMatchObject({ body, status: 400, answer: { code: "INVALID_INPUT" } });
      expect(answer.error).toMatch(/type|__proto__|constructor/);
      expect(JSON.stringify(answer)).not.toContain(HOSTILE_ACCESS);
      // The library refuses the same objects (JSON.parse makes __proto__ an own key, as a hostile caller would).
      const library = await h.refresca.channels.upsert({ ...JSON.parse(body), tenantId: ids.victim, id: victimId });
      expect(library).toMatchObject({ success: false, code: "INVALID_INPUT" });
    }
    expect(await channelRow(h, ids.victim, victimId)).toEqual(before);
  });

  it("1,000 mutations of acme as the type of the victim's own acme channel: every one INVALID_INPUT, the victim unchanged", async () => {
    const mutated = fc
      .tuple(fc.nat({ max: ACME.id.length }), fc.nat({ max: 1 }), fc.string({ unit: "binary", minLength: 1, maxLength: 2 }))
      .map(([at, drop, text]) => ACME.id.slice(0, at) + text + ACME.id.slice(at + drop));
    const types = fc
      .oneof(mutated, fc.constantFrom(...confusedTypes(ACME.id)), fc.string({ unit: "binary", maxLength: 40 }))
      .filter((type) => !h.refresca.platformIds.includes(type));
    const inputs = types.map((type) => ({
      tenantId: ids.victim,
      id: ids.victimConfiguredChannel!,
      type,
      displayName: "Spoof",
      accessToken: HOSTILE_ACCESS,
      refreshToken: HOSTILE_REFRESH,
    }));
    await survives(h, ids.victim, h.refresca.channels.upsert as Operation, inputs, (_input, answer) => {
      expect(answer).toMatchObject({ success: false, code: "INVALID_INPUT" });
      expect((answer as unknown as { error: string }).error).toContain(`type: ${ALLOWED_WITH_ACME}; got `);
    });
  }, 120_000);

  /**
   * An attacker tenant of its own, holding an acme channel: the fuzzing above may have given `ids.attacker` a channel
   * with the victim's channel id (its own row, which it may legitimately refresh).
   */
  async function freshAttacker(): Promise<string> {
    const attacker = h.tenant();
    await h.addConfiguredChannel({ tenantId: attacker, expiresInSeconds: 300 });
    return attacker;
  }

  it("tenant A cannot read, write, refresh or schedule tenant B's acme channel through the library: NOT_FOUND, no call to the platform", async () => {
    const snapshot = await tenantSnapshot(h, ids.victim);
    const victimId = ids.victimConfiguredChannel!;
    const attacker = await freshAttacker();
    const ref = { tenantId: attacker, channelId: victimId };
    const answers: unknown[] = [
      await h.refresca.refreshChannelToken(ref),
      await h.refresca.getAccessToken({ ...ref, minValidityMinutes: 1440 }),
      await h.refresca.channels.get(ref),
      await h.refresca.scheduleChannelTokenRefresh({ ...ref, delayMinutes: 0 }),
      await h.refresca.channels.remove(ref),
    ];
    for (const answer of answers) expect(answer).toMatchObject({ success: false, code: "NOT_FOUND" });
    const batch = await h.refresca.refreshMultipleChannelTokens({ tenantId: attacker, channelIds: [victimId] });
    expect(batch).toMatchObject({ success: true, succeeded: 0, results: [{ channelId: victimId, code: "NOT_FOUND" }] });
    const due = await h.refresca.getChannelsNeedingTokenRefresh({ tenantId: attacker, refreshBeforeMinutes: 525_600 });
    expect(due.success && due.channels.map((channel) => channel.channelId)).not.toContain(victimId);
    // The same id under A's tenant is A's own channel, a different row: B's stays as it was.
    const own = h.simulator.oauth2.issue(ACME.id);
    const upsert = await h.refresca.channels.upsert({ tenantId: attacker, id: victimId, type: ACME.id, displayName: "A's", ...own });
    expect(upsert).toMatchObject({ success: true, channel: { tenantId: attacker, id: victimId, type: ACME.id } });
    expect(await h.refresca.refreshChannelToken({ tenantId: attacker, channelId: victimId })).toMatchObject({ success: true });
    expect(h.simulator.oauth2.stats().callsForToken(own.refreshToken)).toBe(1); // A's own token, not B's
    expect(await h.refresca.channels.remove({ tenantId: attacker, channelId: victimId })).toMatchObject({ success: true });

    expect(h.simulator.oauth2.stats().callsForToken(ids.victimConfiguredRefreshToken!)).toBe(0);
    expect(await tenantSnapshot(h, ids.victim)).toEqual(snapshot);
    await h.refresca.internals.tokenReads.flush();
    expect(await h.sql("select * from token_reads where tenant_id = $1", [ids.victim])).toEqual([]);
  });

  it("tenant A's API key gets 403 on B's acme channel and 404 naming it under A's tenant; nothing read, written, refreshed or audited", async () => {
    const snapshot = await tenantSnapshot(h, ids.victim);
    const victimId = ids.victimConfiguredChannel!;
    const baseUrl = await serveApi(h);
    const attacker = await freshAttacker();
    const keyA = await keyFor(h, attacker);
    const body = { type: ACME.id, displayName: "intruder", accessToken: HOSTILE_ACCESS, refreshToken: HOSTILE_REFRESH };
    const foreign: Array<[string, string, unknown?]> = [
      ["GET", `/tenants/${ids.victim}/channels/${victimId}/token?minValidityMinutes=1440`],
      ["GET", `/tenants/${ids.victim}/channels/${victimId}`],
      ["POST", `/tenants/${ids.victim}/channels/${victimId}/refresh`],
      ["POST", `/tenants/${ids.victim}/channels/${victimId}/scheduled-refreshes`, { delayMinutes: 0 }],
      ["POST", `/tenants/${ids.victim}/refresh`, { channelIds: [victimId] }],
      ["PUT", `/tenants/${ids.victim}/channels/${victimId}`, body],
      ["DELETE", `/tenants/${ids.victim}/channels/${victimId}`],
      ["GET", `/tenants/${ids.victim}/channels`],
      ["GET", `/tenants/${ids.victim}/statistics`],
    ];
    for (const [method, path, payload] of foreign) {
      const res = await call(baseUrl, keyA, method, path, payload);
      const text = await res.text();
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
      expect(text).toContain("FORBIDDEN");
      expect(text).not.toContain(victimId);
    }
    const ownTenant: Array<[string, string, unknown?]> = [
      ["GET", `/tenants/${attacker}/channels/${victimId}/token?minValidityMinutes=1440`],
      ["GET", `/tenants/${attacker}/channels/${victimId}`],
      ["POST", `/tenants/${attacker}/channels/${victimId}/refresh`],
      ["POST", `/tenants/${attacker}/channels/${victimId}/scheduled-refreshes`, { delayMinutes: 0 }],
      ["DELETE", `/tenants/${attacker}/channels/${victimId}`],
    ];
    for (const [method, path, payload] of ownTenant) {
      const res = await call(baseUrl, keyA, method, path, payload);
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
      expect(await res.json()).toMatchObject({ success: false, code: "NOT_FOUND" });
    }
    expect(h.simulator.oauth2.stats().callsForToken(ids.victimConfiguredRefreshToken!)).toBe(0);
    expect(await tenantSnapshot(h, ids.victim)).toEqual(snapshot);
    await h.refresca.internals.tokenReads.flush();
    expect(await h.sql("select * from token_reads where tenant_id = $1", [ids.victim])).toEqual([]);
  });

  it("refuses meta with secret-looking keys for an acme channel (library, import, REST), never echoing the secret, changing nothing", async () => {
    const victimId = ids.victimConfiguredChannel!;
    const before = await channelRow(h, ids.victim, victimId);
    const baseUrl = await serveApi(h);
    const key = await keyFor(h, ids.victim);
    const fresh = h.tenant();
    const tokens = h.simulator.oauth2.issue(ACME.id);
    const metas: Array<[Record<string, unknown>, string]> = [
      [{ access_token: HOSTILE_SECRET }, "meta.access_token"],
      [{ page: { id: "p1", refreshToken: HOSTILE_SECRET } }, "meta.page.refreshToken"],
      [{ acme: { client_secret: HOSTILE_SECRET } }, "meta.acme.client_secret"],
      [{ accounts: [{ name: "a" }, { "Client-Secret": HOSTILE_SECRET }] }, "meta.accounts.1.Client-Secret"],
      [{ PASSWORD: HOSTILE_SECRET }, "meta.PASSWORD"],
      [{ credentials: { id: HOSTILE_SECRET } }, "meta.credentials"],
      [{ id_token: HOSTILE_SECRET }, "meta.id_token"],
    ];
    for (const [meta, path] of metas) {
      const body = { type: ACME.id, displayName: "Acme", ...tokens, meta };
      const answers: any[] = [
        await h.refresca.channels.upsert({ tenantId: ids.victim, id: victimId, ...body }),
        await h.refresca.channels.upsert({ tenantId: fresh, ...body }),
      ];
      const res = await call(baseUrl, key, "PUT", `/tenants/${ids.victim}/channels/${victimId}`, body);
      expect(res.status).toBe(400);
      answers.push(await res.json());
      const [imported] = await h.refresca.channels.import([{ tenantId: fresh, ...body }]);
      for (const answer of answers) {
        expect({ path, answer }).toMatchObject({ path, answer: { success: false, code: "INVALID_INPUT" } });
        expect(answer.error).toContain(`${path}: looks like a secret`);
      }
      expect(imported).toMatchObject({ success: false, error: expect.stringContaining(`${path}: looks like a secret`) });
      const text = JSON.stringify([answers, imported]);
      expect(text).not.toContain(HOSTILE_SECRET);
      expect(text).not.toContain(tokens.accessToken);
      expect(text).not.toContain(tokens.refreshToken);
    }
    expect(await channelRow(h, ids.victim, victimId)).toEqual(before);
    expect(await h.sql("select id from tenants where id = $1", [fresh])).toEqual([]);
    expect(h.logs.join("\n")).not.toContain(HOSTILE_SECRET);
  });
});
