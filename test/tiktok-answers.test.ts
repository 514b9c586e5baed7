import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./support/harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.simulator.configure({ tiktok: { replaceFields: {}, omitFields: [] } });
});
afterAll(async () => {
  await h?.close();
});

const HOUR_MS = 3_600_000;

async function stored(tenantId: string, channelId: string) {
  const [found] = await h.sql(
    "select status, credentials, expires_at, refresh_token_expires_at, platform_details, last_outcome from channels where tenant_id = $1 and id = $2",
    [tenantId, channelId],
  );
  return { ...found, credentials: h.refresca.internals.keyRing.decrypt(found.credentials, { tenantId, channelId }) };
}

describe("a TikTok rotation whose answer has unexpected unimportant fields", () => {
  it("is saved (scope: null, open_id: 5, token_type: mac): the new refresh token is kept and the next refresh uses it", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    const reuseBefore = (await h.simulator.stats()).reuseDetected;
    await h.simulator.configure({ tiktok: { replaceFields: { scope: null, open_id: 5, token_type: "mac" } } });
    const answer = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    expect(answer).toMatchObject({ success: true });
    const saved = await stored(tenantId, channel.id);
    expect(saved.credentials.refreshToken).not.toBe(channel.refreshToken);
    // The odd fields are read leniently: a number coerced, a null dropped, an unknown type kept as a fact.
    expect(saved.platform_details).toEqual({ open_id: "5", token_type: "mac" });

    await h.simulator.configure({ tiktok: { replaceFields: {} } });
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
    const stats = await h.simulator.stats();
    expect(stats.callsForToken(channel.refreshToken!)).toBe(1);
    expect(stats.reuseDetected).toBe(reuseBefore);
    expect((await stored(tenantId, channel.id)).status).toBe("active");
  });

  it("without refresh_expires_in keeps the stored refresh-token deadline; a bad one too", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    const deadline = new Date(Date.now() + 100 * 24 * HOUR_MS);
    await h.sql("update channels set refresh_token_expires_at = $2 where tenant_id = $1", [tenantId, deadline]);
    await h.simulator.configure({ tiktok: { omitFields: ["refresh_expires_in"] } });
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
    expect((await stored(tenantId, channel.id)).refresh_token_expires_at).toEqual(deadline);
    await h.simulator.configure({ tiktok: { omitFields: [], replaceFields: { refresh_expires_in: "a year" } } });
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({ success: true });
    expect((await stored(tenantId, channel.id)).refresh_token_expires_at).toEqual(deadline);
  });

  it.each([
    ["missing", undefined],
    ["not a number", "soon"],
    ["negative", -1],
    ["beyond a year", 400 * 86_400],
  ])("with expires_in %s saves the tokens with a conservative one-hour lifetime", async (_case, value) => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    await h.simulator.configure({
      tiktok: value === undefined ? { omitFields: ["expires_in"] } : { replaceFields: { expires_in: value } },
    });
    const before = Date.now();
    const answer = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    expect(answer).toMatchObject({ success: true });
    const saved = await stored(tenantId, channel.id);
    expect(saved.credentials.refreshToken).not.toBe(channel.refreshToken);
    expect(saved.expires_at.getTime()).toBeGreaterThanOrEqual(before + HOUR_MS - 1000);
    expect(saved.expires_at.getTime()).toBeLessThanOrEqual(Date.now() + HOUR_MS + 1000);
  });

  it.each([
    ["access_token", { access_token: "" }],
    ["refresh_token", { refresh_token: 42 }],
  ])("without a valid %s is refused as INVALID_RESPONSE: there is nothing to save", async (_field, replaceFields) => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    await h.simulator.configure({ tiktok: { replaceFields } });
    expect(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).toMatchObject({
      success: false,
      code: "INVALID_RESPONSE",
    });
  });
});
