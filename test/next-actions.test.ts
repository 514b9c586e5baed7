// createOAuthRefreshActions (`refresca/next`) without Next.js: the access rule, the lazy Refresca, and the errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANY_TENANT, createOAuthRefreshActions, OAUTH_REFRESH_ACTIONS, type TenantAccess } from "../src/next";
import type { Refresca } from "../src/refresca";
import { ACME, startHarness, withConfiguredProvider, type Harness } from "./support/harness";
import { hostileIds, operationInput, SPEC_OPERATIONS, survives, tenantSnapshot, type HostileIds, type Operation } from "./support/hostile";

let h: Harness;
let ids: HostileIds;

beforeAll(async () => {
  // The victim holds a TikTok channel and one of a configured OAuth 2.0 provider ("acme"): both are attacked.
  h = await startHarness(withConfiguredProvider());
  ids = await hostileIds(h, { configured: ACME.id });
});
afterAll(async () => {
  await h?.close();
});

/** Records what the actions log, as a pino logger's `error(details, message)` would receive it. */
function recordingLogger() {
  const lines: Array<{ details: unknown; message: string }> = [];
  return { lines, logger: { error: ((details: unknown, message: string) => lines.push({ details, message })) as never } };
}

describe("createOAuthRefreshActions", () => {
  it("makes exactly the specification's eight actions: nothing that hands out a token", () => {
    const actions = createOAuthRefreshActions({ refresca: h.refresca, tenantOf: () => ids.attacker });
    expect(Object.keys(actions).sort()).toEqual([...SPEC_OPERATIONS].sort());
    expect(OAUTH_REFRESH_ACTIONS).toEqual(SPEC_OPERATIONS);
    expect(actions).not.toHaveProperty("getAccessToken");
  });

  it.each<[string, TenantAccess]>([
    ["null", null],
    ["undefined", undefined],
    ["an empty string", ""],
  ])("answers UNAUTHORIZED to every action when tenantOf answers %s, without creating the Refresca", async (_, access) => {
    let created = 0;
    const actions = createOAuthRefreshActions({ refresca: () => (created++, h.refresca), tenantOf: async () => access });
    for (const name of SPEC_OPERATIONS) {
      expect(await actions[name]({ tenantId: ids.victim })).toMatchObject({ success: false, code: "UNAUTHORIZED" });
    }
    expect(created).toBe(0);
  });

  it.each(SPEC_OPERATIONS)(
    "%s, signed in as tenant A, with 1,000 arbitrary inputs: FORBIDDEN for every other tenant id, B untouched",
    async (name) => {
      const actions = createOAuthRefreshActions({ refresca: Promise.resolve(h.refresca), tenantOf: () => ids.attacker });
      await survives(h, ids.victim, actions[name] as Operation, operationInput(ids, true), (input, answer) => {
        const tenantId = (input as { tenantId?: unknown } | null)?.tenantId;
        if (typeof tenantId === "string" && tenantId !== ids.attacker) expect(answer.code).toBe("FORBIDDEN");
      });
      expect(h.simulator.oauth2.stats().callsForToken(ids.victimConfiguredRefreshToken!)).toBe(0);
    },
    120_000,
  );

  it("lets a user whose tenantOf answers ANY_TENANT act for any tenant", async () => {
    const operator = createOAuthRefreshActions({ refresca: h.refresca, tenantOf: () => ANY_TENANT });
    expect(await operator.getRefreshStatistics({ tenantId: ids.victim })).toMatchObject({ success: true, statistics: { totalChannels: 2 } });
    expect(await operator.getRefreshStatistics({ tenantId: ids.attacker })).toMatchObject({ success: true, statistics: { totalChannels: 1 } });
  });

  it("creates a lazily given Refresca on the first action, once, and again after it failed", async () => {
    let calls = 0;
    const refresca = async (): Promise<Refresca> => {
      calls += 1;
      if (calls === 1) throw new Error("the database is starting");
      return h.refresca;
    };
    const { lines, logger } = recordingLogger();
    const actions = createOAuthRefreshActions({ refresca, tenantOf: () => ids.attacker, logger });
    const failed = await actions.getRefreshStatistics({ tenantId: ids.attacker });
    expect(failed).toEqual({ success: false, code: "INTERNAL", error: expect.any(String) });
    expect(failed.success ? "" : failed.error).not.toContain("starting");
    expect(lines).toHaveLength(1);
    for (let i = 0; i < 3; i++) expect(await actions.getRefreshStatistics({ tenantId: ids.attacker })).toMatchObject({ success: true });
    expect(calls).toBe(2);
  });

  it("logs an error of the product's sign-in and answers a generic sentence, touching nothing", async () => {
    const before = await tenantSnapshot(h, ids.victim);
    const { lines, logger } = recordingLogger();
    const actions = createOAuthRefreshActions({
      refresca: h.refresca,
      tenantOf: () => {
        throw new Error("session store secret=hunter2 unreachable");
      },
      logger,
    });
    const answer = await actions.refreshChannelToken({ tenantId: ids.victim, channelId: ids.victimChannel });
    expect(answer).toEqual({ success: false, code: "INTERNAL", error: expect.any(String) });
    expect(JSON.stringify(answer)).not.toContain("hunter2");
    expect(lines.map((line) => line.details)).toEqual([expect.objectContaining({ operation: "refreshChannelToken" })]);
    expect(await tenantSnapshot(h, ids.victim)).toEqual(before);
  });
});
