import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import { startHarness, type Harness } from "./support/harness";
import { hostileIds, operationInput, SPEC_OPERATIONS, survives, tenantIds, type HostileIds, type Operation } from "./support/hostile";

let h: Harness;
let ids: HostileIds;

beforeAll(async () => {
  h = await startHarness();
  ids = await hostileIds(h);
});
afterAll(async () => {
  await h?.close();
});

// The library is a trusted caller: these inputs never name the victim tenant itself, only its channel ids and
// look-alikes of its tenant id.
describe("hostile input through createRefresca()", () => {
  it.each(SPEC_OPERATIONS)("%s answers success or { success: false, code } for 1,000 arbitrary inputs, and never touches another tenant", async (name) => {
    await survives(h, ids.victim, h.refresca[name] as Operation, operationInput(ids));
  }, 120_000);

  it.each(["upsert", "get", "list", "remove"] as const)("channels.%s survives 1,000 arbitrary inputs", async (name) => {
    const channelLike = fc.record({ tenantId: tenantIds(ids, false), type: fc.string(), displayName: fc.string(), accessToken: fc.string(), meta: fc.anything() });
    await survives(h, ids.victim, h.refresca.channels[name] as Operation, fc.oneof(operationInput(ids), channelLike));
  }, 120_000);
});
