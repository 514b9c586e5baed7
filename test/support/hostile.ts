import fc from "fast-check";
import { expect } from "vitest";
import { PLATFORMS } from "../../src/core/types";
import type { Harness } from "./harness";

/** Everything about one tenant that any operation could change. */
export async function tenantSnapshot(h: Harness, tenantId: string) {
  const rows = await h.sql(
    "select id, version, credentials, status, expires_at, updated_at, last_attempt_at from channels where tenant_id = $1 order by id",
    [tenantId],
  );
  const events = await h.sql("select count(*)::int as n from refresh_events where tenant_id = $1", [tenantId]);
  const schedules = await h.sql("select * from refresh_schedules where tenant_id = $1", [tenantId]);
  const jobs = await h.refresca.getTokenRefreshJobsStatus({ tenantId });
  return { rows, events, schedules, jobs };
}

export interface HostileIds {
  attacker: string;
  victim: string;
  attackerChannel: string;
  victimChannel: string;
  /** With `hostileIds(h, { configured })`: the victim's channel of that configured provider, and its refresh token. */
  victimConfiguredChannel?: string;
  victimConfiguredRefreshToken?: string;
}

/** Ids an attacker might try: their own, unknown ones, the victim's, hostile strings. */
export function tenantIds(ids: HostileIds, includeVictim: boolean) {
  return fc.oneof(
    fc.constant(ids.attacker),
    fc.constant("no-such-tenant"),
    fc.string({ maxLength: 200 }),
    fc.constant("x".repeat(10_000)),
    fc.constant("' or 1=1 --"),
    fc.constant(`${ids.victim} `),
    fc.constant(ids.victim.toUpperCase()),
    ...(includeVictim ? [fc.constant(ids.victim)] : []),
  );
}

/** Inputs shaped like the real ones (so some pass validation) mixed with arbitrary JSON. */
export function operationInput(ids: HostileIds, includeVictim = false) {
  const channelIds = fc.oneof(
    fc.constant(ids.victimChannel),
    ...(ids.victimConfiguredChannel ? [fc.constant(ids.victimConfiguredChannel)] : []),
    fc.constant(ids.attackerChannel),
    fc.string({ maxLength: 200 }),
    fc.constant(`../${ids.victimChannel}`),
  );
  const numbers = fc.oneof(
    fc.integer({ min: -1e6, max: 1e6 }),
    fc.double(),
    fc.constant(Number.MAX_SAFE_INTEGER),
    fc.constant(-0),
    fc.string(),
  );
  return fc.oneof(
    fc.jsonValue(),
    fc.anything(),
    fc.record(
      {
        tenantId: tenantIds(ids, includeVictim),
        channelId: channelIds,
        channelIds: fc.oneof(fc.array(channelIds, { maxLength: 5 }), fc.anything()),
        delayMinutes: numbers,
        intervalMinutes: numbers,
        refreshBeforeMinutes: numbers,
        limit: numbers,
        offset: numbers,
        extra: fc.anything(),
      },
      { requiredKeys: ["tenantId"] },
    ),
  );
}

export type Operation = (input: unknown) => Promise<{ success: boolean; code?: string }>;

/**
 * 1,000 arbitrary inputs: each answer is a success or a coded failure (never an exception, never INTERNAL), and the
 * victim tenant is exactly as it was. `check` may add assertions about each answer.
 */
export async function survives(
  h: Harness,
  victim: string,
  operation: Operation,
  inputs: fc.Arbitrary<unknown>,
  check?: (input: unknown, answer: { success: boolean; code?: string }) => void,
) {
  const before = await tenantSnapshot(h, victim);
  await fc.assert(
    fc.asyncProperty(inputs, async (value) => {
      const answer = await operation(value);
      expect(typeof answer.success).toBe("boolean");
      if (!answer.success) expect(answer.code).toMatch(/^[A-Z_]+$/);
      expect(answer.code).not.toBe("INTERNAL");
      check?.(value, answer);
    }),
    { numRuns: 1000 },
  );
  expect(await tenantSnapshot(h, victim)).toEqual(before);
}

/**
 * The specification's eight operations, typed out from the specification on purpose (not imported from
 * `refresca/next`): tests compare the code's own lists against this one.
 */
export const SPEC_OPERATIONS = [
  "refreshChannelToken",
  "refreshMultipleChannelTokens",
  "getChannelsNeedingTokenRefresh",
  "scheduleChannelTokenRefresh",
  "scheduleRecurringTokenRefresh",
  "cancelRecurringTokenRefresh",
  "getTokenRefreshJobsStatus",
  "getRefreshStatistics",
] as const;

/**
 * A victim and an attacker tenant with one channel each: what every hostile-input suite attacks. With `configured`
 * (a provider the harness configures, see `withConfiguredProvider`), the victim also holds a channel of that type.
 */
export async function hostileIds(h: Harness, options: { configured?: string } = {}): Promise<HostileIds> {
  const victim = h.tenant();
  const attacker = h.tenant();
  const ids: HostileIds = {
    victim,
    attacker,
    victimChannel: (await h.addChannel({ tenantId: victim, platform: "tiktok", expiresInSeconds: 300 })).id,
    attackerChannel: (await h.addChannel({ tenantId: attacker, platform: "facebook", expiresInSeconds: 300 })).id,
  };
  if (options.configured) {
    const channel = await h.addConfiguredChannel({ tenantId: victim, provider: options.configured, expiresInSeconds: 300 });
    ids.victimConfiguredChannel = channel.id;
    ids.victimConfiguredRefreshToken = channel.refreshToken;
  }
  return ids;
}

/**
 * Channel types an attacker tries on an instance configuring `configured`: its id and the built-ins' names in other
 * case, padded, with a NUL or zero-width character, spelt with homoglyphs (Cyrillic, full-width), JavaScript's own
 * property names, path and list tricks, 10 kB. None is a channel type.
 */
export function confusedTypes(configured: string): string[] {
  const cyrillic = (text: string) => text.replace("a", "\u0430").replace("i", "\u0456").replace("o", "\u043e").replace("e", "\u0435");
  return [
    configured.toUpperCase(),
    configured[0]!.toUpperCase() + configured.slice(1),
    ` ${configured}`,
    `${configured} `,
    `${configured}\u0000`,
    `${configured}\n`,
    `${configured}\u200b`,
    `\u200d${configured}`,
    cyrillic(configured),
    ...PLATFORMS.map(cyrillic),
    "ｔｉｋｔｏｋ",
    "TikTok",
    "__proto__",
    "constructor",
    "prototype",
    "toString",
    "hasOwnProperty",
    "valueOf",
    "",
    "\u0000",
    `../${configured}`,
    `${configured}/../tiktok`,
    `${configured},tiktok`,
    `${configured}|instagram`,
    `${configured}%00`,
    "x".repeat(10_240),
    configured.repeat(2_048),
  ];
}
