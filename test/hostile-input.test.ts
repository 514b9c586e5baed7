import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./support/harness";

let h: Harness;
let victim: string;
let victimChannel: string;
let attacker: string;
let attackerChannel: string;

beforeAll(async () => {
  h = await startHarness();
  victim = h.tenant();
  attacker = h.tenant();
  victimChannel = (await h.addChannel({ tenantId: victim, platform: "tiktok", expiresInSeconds: 300 })).id;
  attackerChannel = (await h.addChannel({ tenantId: attacker, platform: "facebook", expiresInSeconds: 300 })).id;
});
afterAll(async () => {
  await h?.close();
});

/** Everything about the victim tenant that any operation could change. */
async function victimState() {
  const rows = await h.sql("select id, version, credentials, status, expires_at, updated_at from channels where tenant_id = $1 order by id", [victim]);
  const events = await h.sql("select count(*)::int as n from refresh_events where tenant_id = $1", [victim]);
  const schedules = await h.sql("select * from refresh_schedules where tenant_id = $1", [victim]);
  const jobs = await h.refresca.getTokenRefreshJobsStatus({ tenantId: victim });
  return { rows, events, schedules, jobs };
}

// Ids an attacker might try: their own, unknown ones, the victim's channel under their tenant, hostile strings.
const tenantIds = () =>
  fc.oneof(
    fc.constant(attacker),
    fc.constant("no-such-tenant"),
    fc.string({ maxLength: 200 }),
    fc.constant("x".repeat(10_000)),
    fc.constant("' or 1=1 --"),
    fc.constant(`${victim} `),
    fc.constant(victim.toUpperCase()),
  );
const channelIds = () =>
  fc.oneof(fc.constant(victimChannel), fc.constant(attackerChannel), fc.string({ maxLength: 200 }), fc.constant("../" + victimChannel));
const numbers = () =>
  fc.oneof(fc.integer({ min: -1e6, max: 1e6 }), fc.double(), fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(-0), fc.string());

/** Inputs shaped like the real ones (so some pass validation) mixed with arbitrary JSON. */
const input = () =>
  fc.oneof(
    fc.jsonValue(),
    fc.anything(),
    fc.record(
      {
        tenantId: tenantIds(),
        channelId: channelIds(),
        channelIds: fc.oneof(fc.array(channelIds(), { maxLength: 5 }), fc.anything()),
        delayMinutes: numbers(),
        intervalMinutes: numbers(),
        refreshBeforeMinutes: numbers(),
        limit: numbers(),
        offset: numbers(),
        extra: fc.anything(),
      },
      { requiredKeys: ["tenantId"] },
    ),
  );

const operations = [
  "refreshChannelToken",
  "refreshMultipleChannelTokens",
  "getChannelsNeedingTokenRefresh",
  "scheduleChannelTokenRefresh",
  "scheduleRecurringTokenRefresh",
  "cancelRecurringTokenRefresh",
  "getTokenRefreshJobsStatus",
  "getRefreshStatistics",
] as const;

type Operation = (input: unknown) => Promise<{ success: boolean; code?: string }>;

/** 1,000 arbitrary inputs: each answer is a success or a coded failure, and the victim tenant never changes. */
async function survives(operation: Operation, inputs: fc.Arbitrary<unknown>) {
  const before = await victimState();
  await fc.assert(
    fc.asyncProperty(inputs, async (value) => {
      const answer = await operation(value);
      expect(typeof answer.success).toBe("boolean");
      if (!answer.success) expect(answer.code).toMatch(/^[A-Z_]+$/);
      expect(answer.code).not.toBe("INTERNAL");
    }),
    { numRuns: 1000 },
  );
  expect(await victimState()).toEqual(before);
}

describe("hostile input through createRefresca()", () => {
  it.each(operations)("%s answers success or { success: false, code } for 1,000 arbitrary inputs, and never touches another tenant", async (name) => {
    await survives(h.refresca[name] as Operation, input());
  }, 120_000);

  it.each(["upsert", "get", "list", "remove"] as const)("channels.%s survives 1,000 arbitrary inputs", async (name) => {
    const channelLike = fc.record({ tenantId: tenantIds(), type: fc.string(), displayName: fc.string(), accessToken: fc.string(), meta: fc.anything() });
    await survives(h.refresca.channels[name] as Operation, fc.oneof(input(), channelLike));
  }, 120_000);
});
