import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forSession, type Session } from "../src/web/policy";
import { ACME, startHarness, withConfiguredProvider, type Harness } from "./support/harness";
import { operationInput, SPEC_OPERATIONS, survives, tenantSnapshot, type HostileIds, type Operation } from "./support/hostile";

let h: Harness;
let ids: HostileIds;
let victimChannels: string[];
/** The refresh token of B's channel of the configured provider "acme": no attack may make Refresca present it. */
let victimAcmeRefreshToken: string;

beforeAll(async () => {
  // The instance configures a generic OAuth 2.0 provider, and B holds a channel of it besides the four built-ins.
  h = await startHarness(withConfiguredProvider());
  const victim = h.tenant();
  const attacker = h.tenant();
  victimChannels = [];
  for (const platform of ["tiktok", "facebook", "instagram", "whatsapp"] as const) {
    victimChannels.push((await h.addChannel({ tenantId: victim, platform, expiresInSeconds: 300 })).id);
  }
  const acme = await h.addConfiguredChannel({ tenantId: victim, provider: ACME.id, expiresInSeconds: 300 });
  victimChannels.push(acme.id);
  victimAcmeRefreshToken = acme.refreshToken!;
  await h.refresca.scheduleRecurringTokenRefresh({ tenantId: victim, intervalMinutes: 60 });
  ids = {
    victim,
    attacker,
    victimChannel: victimChannels[0]!,
    victimConfiguredChannel: acme.id,
    victimConfiguredRefreshToken: acme.refreshToken!,
    attackerChannel: (await h.addChannel({ tenantId: attacker, platform: "facebook", expiresInSeconds: 300 })).id,
  };
  // One queued refresh each, an hour ahead: A's job figures must count A's own and never B's. (Channels' plans live in
  // SQL: a channel not due within minutes has no job in Redis.)
  await h.refresca.scheduleChannelTokenRefresh({ tenantId: attacker, channelId: ids.attackerChannel, delayMinutes: 60 });
  await h.refresca.scheduleChannelTokenRefresh({ tenantId: victim, channelId: victimChannels[1]!, delayMinutes: 60 });
});
afterAll(async () => {
  await h?.close();
});

describe("tenant A cannot reach tenant B's channels or jobs", () => {
  it("through the library, naming B's channels under A's tenant id, for every operation", async () => {
    const before = await tenantSnapshot(h, ids.victim);
    const calls: Array<[string, unknown]> = [
      ["refreshChannelToken", { tenantId: ids.attacker, channelId: ids.victimChannel }],
      ["refreshMultipleChannelTokens", { tenantId: ids.attacker, channelIds: victimChannels }],
      ["refreshMultipleChannelTokens", { tenantId: ids.attacker }],
      ["getChannelsNeedingTokenRefresh", { tenantId: ids.attacker, refreshBeforeMinutes: 525_600 }],
      ["scheduleChannelTokenRefresh", { tenantId: ids.attacker, channelId: ids.victimChannel, delayMinutes: 0 }],
      ["scheduleRecurringTokenRefresh", { tenantId: ids.attacker, intervalMinutes: 1 }],
      ["cancelRecurringTokenRefresh", { tenantId: ids.attacker }],
      ["getTokenRefreshJobsStatus", { tenantId: ids.attacker }],
      ["getRefreshStatistics", { tenantId: ids.attacker }],
    ];
    const answers = [];
    for (const [name, input] of calls) answers.push(await (h.refresca[name as keyof typeof h.refresca] as Operation)(input));
    answers.push(await h.refresca.channels.get({ tenantId: ids.attacker, channelId: ids.victimChannel }));
    answers.push(await h.refresca.channels.remove({ tenantId: ids.attacker, channelId: ids.victimChannel }));
    answers.push(await h.refresca.channels.list({ tenantId: ids.attacker }));
    expect(answers[0]).toMatchObject({ code: "NOT_FOUND" });
    expect(answers[1]).toMatchObject({ success: true, succeeded: 0, results: victimChannels.map(() => ({ code: "NOT_FOUND" })) });
    expect(answers[4]).toMatchObject({ code: "NOT_FOUND" });
    // Apart from the batch echoing the ids A sent, A's answers never mention B's channels; B counts nowhere in A's figures.
    const text = JSON.stringify(answers.filter((_, index) => index !== 1));
    for (const id of victimChannels.slice(1)) expect(text).not.toContain(id);
    expect(answers[7]).toMatchObject({ jobsDelayed: 1 }); // A's own scheduled refresh only
    expect(answers[8]).toMatchObject({ statistics: { totalChannels: 1 } });
    expect(await tenantSnapshot(h, ids.victim)).toEqual(before);
    expect(h.simulator.oauth2.stats().callsForToken(victimAcmeRefreshToken)).toBe(0);
  });

  it("through the library, naming B's acme channel (a configured provider) under A's tenant id: NOT_FOUND everywhere, no platform call", async () => {
    const before = await tenantSnapshot(h, ids.victim);
    const acmeChannel = victimChannels.at(-1)!;
    const ref = { tenantId: ids.attacker, channelId: acmeChannel };
    const answers = [
      await h.refresca.refreshChannelToken(ref),
      await h.refresca.scheduleChannelTokenRefresh({ ...ref, delayMinutes: 0 }),
      await h.refresca.getAccessToken({ ...ref, minValidityMinutes: 1440 }),
      await h.refresca.channels.get(ref),
      await h.refresca.channels.remove(ref),
    ];
    for (const answer of answers) expect(answer).toMatchObject({ success: false, code: "NOT_FOUND" });
    const needing = await h.refresca.getChannelsNeedingTokenRefresh({ tenantId: ids.attacker, refreshBeforeMinutes: 525_600 });
    expect(JSON.stringify(needing)).not.toContain(ACME.id); // A has no acme channel: B's never shows
    expect(await h.refresca.refreshMultipleChannelTokens({ tenantId: ids.attacker, channelIds: [acmeChannel] })).toMatchObject({
      success: true,
      succeeded: 0,
      results: [{ channelId: acmeChannel, code: "NOT_FOUND" }],
    });
    expect(h.simulator.oauth2.stats().callsForToken(victimAcmeRefreshToken)).toBe(0);
    expect(await tenantSnapshot(h, ids.victim)).toEqual(before);
  });

  const sessionA = (): Session => ({ role: "tenant", tenantId: ids.attacker, tenantName: "A" });

  it.each(SPEC_OPERATIONS)(
    "through the server actions' access check: %s with A's session and 1,000 arbitrary inputs, forged tenant ids included",
    async (name) => {
      const operation = h.refresca[name] as Operation;
      const guarded: Operation = (input) => forSession(sessionA(), input, () => operation(input)) as never;
      await survives(h, ids.victim, guarded, operationInput(ids, true), (input, answer) => {
        const tenantId = (input as { tenantId?: unknown } | null)?.tenantId;
        if (typeof tenantId === "string" && tenantId !== ids.attacker) expect(answer.code).toBe("FORBIDDEN");
      });
      expect(h.simulator.oauth2.stats().callsForToken(victimAcmeRefreshToken)).toBe(0);
    },
    120_000,
  );

  it("refuses every operation without a session, and lets an admin act for any tenant", async () => {
    for (const name of SPEC_OPERATIONS) {
      const input = { tenantId: ids.victim };
      expect(await forSession(null, input, () => (h.refresca[name] as Operation)(input) as never)).toMatchObject({ code: "UNAUTHORIZED" });
    }
    const stats = await forSession({ role: "admin" }, { tenantId: ids.victim }, () => h.refresca.getRefreshStatistics({ tenantId: ids.victim }));
    expect(stats).toMatchObject({ success: true, statistics: { totalChannels: 5 } });
  });
});
