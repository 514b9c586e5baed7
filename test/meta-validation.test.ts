import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRefrescaApi } from "../src/api";
import { startHarness, type Harness } from "./support/harness";

let h: Harness;
let server: ServerType;
let baseUrl: string;

beforeAll(async () => {
  h = await startHarness();
  server = serve({ fetch: createRefrescaApi(h.refresca).fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await h?.close();
});

/** `{ a: { a: … { a: 1 } } }`, `depth` objects deep, built without recursion. */
function nestedObject(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { a: 1 };
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

const channel = (tenantId: string, meta: unknown) => ({
  tenantId,
  id: "deep",
  type: "instagram" as const,
  displayName: "Shop",
  accessToken: "ig-token-meta-validation",
  expiresAt: null,
  meta: meta as Record<string, unknown>,
});

async function stored(tenantId: string) {
  return h.sql("select id from channels where tenant_id = $1", [tenantId]);
}

describe("a channel's meta", () => {
  it("nested 20,000 deep is refused as INVALID_INPUT naming meta, and nothing is stored", async () => {
    const tenantId = h.tenant();
    const answer = await h.refresca.channels.upsert(channel(tenantId, { page: nestedObject(20_000) }));
    expect(answer).toMatchObject({ success: false, code: "INVALID_INPUT" });
    expect(!answer.success && answer.error).toMatch(/meta.*deep/);
    expect(await stored(tenantId)).toEqual([]);
    // Arrays count as levels too.
    let array: unknown[] = [];
    for (let i = 0; i < 20_000; i++) array = [array];
    expect(await h.refresca.channels.upsert(channel(tenantId, { list: array }))).toMatchObject({ success: false, code: "INVALID_INPUT" });
    expect(await stored(tenantId)).toEqual([]);
  });

  it("may be 32 levels deep, not 33", async () => {
    const tenantId = h.tenant();
    // meta itself is level 1.
    expect(await h.refresca.channels.upsert(channel(tenantId, nestedObject(32)))).toMatchObject({ success: true });
    const answer = await h.refresca.channels.upsert(channel(tenantId, nestedObject(33)));
    expect(answer).toMatchObject({ success: false, code: "INVALID_INPUT" });
    expect(!answer.success && answer.error).toContain("meta: must be at most 32 levels deep");
  });

  it("refuses secret-looking keys at any depth, naming their path", async () => {
    const tenantId = h.tenant();
    const nested = await h.refresca.channels.upsert(channel(tenantId, { page: { id: "p1", access_token: "EAAB…" } }));
    expect(nested).toMatchObject({ success: false, code: "INVALID_INPUT" });
    expect(!nested.success && nested.error).toContain("meta.page.access_token: looks like a secret");
    const inArray = await h.refresca.channels.upsert(channel(tenantId, { accounts: [{ name: "a" }, { settings: { clientSecret: "x" } }] }));
    expect(!inArray.success && inArray.error).toContain("meta.accounts.1.settings.clientSecret: looks like a secret");
    expect(await stored(tenantId)).toEqual([]);
    // Non-secret nested keys are fine.
    expect(await h.refresca.channels.upsert(channel(tenantId, { page: { id: "p1", name: "Shop" }, tags: ["a", "b"] }))).toMatchObject({
      success: true,
    });
  });

  it("refuses values that are not JSON instead of throwing", async () => {
    const tenantId = h.tenant();
    const answer = await h.refresca.channels.upsert(channel(tenantId, { count: 10n }));
    expect(answer).toMatchObject({ success: false, code: "INVALID_INPUT" });
    expect(!answer.success && answer.error).toContain("meta.count");
  });

  it("through the REST API: a body nested 20,000 deep answers 400 INVALID_INPUT, and nothing is stored", async () => {
    const tenantId = h.tenant();
    const made = await h.refresca.apiKeys.create({ name: "deep", scopes: ["channels:write"] });
    if (!made.success) throw new Error(made.error);
    // Arrays nest in 2 bytes a level: 20,000 levels fit under the API's 64 kB body limit.
    const body = `{"type":"instagram","displayName":"Shop","accessToken":"ig-token-deep","expiresAt":null,"meta":{"list":${"[".repeat(20_000)}${"]".repeat(20_000)}}}`;
    const res = await fetch(`${baseUrl}/api/v1/tenants/${tenantId}/channels/deep`, {
      method: "PUT",
      headers: { authorization: `Bearer ${made.apiKey}`, "content-type": "application/json" },
      body,
    });
    const answer = await res.json();
    expect({ status: res.status, answer }).toMatchObject({ status: 400, answer: { success: false, code: "INVALID_INPUT" } });
    expect(answer.error).toMatch(/meta/);
    expect(await stored(tenantId)).toEqual([]);
  });
});
