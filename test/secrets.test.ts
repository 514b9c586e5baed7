import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLATFORMS } from "../src/core/types";
import { SIM_META_APP_SECRET, SIM_TIKTOK_CLIENT_SECRET } from "../src/simulator";
import { TEST_DATABASE_URL } from "./env";
import { startHarness, TEST_KEYS, type Harness } from "./support/harness";

const run = promisify(execFile);
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("secrets stay secret", () => {
  it("leaves no token or app secret in a database dump, the debug logs or any answer", async () => {
    const tenantId = h.tenant();
    const answers: unknown[] = [];
    const channels = [];
    for (const platform of PLATFORMS) {
      channels.push(await h.addChannel({ tenantId, platform, expiresInSeconds: 120 }));
      channels.push(await h.addChannel({ tenantId, platform, expiresInSeconds: 90_000 }));
    }
    answers.push(await h.refresca.refreshMultipleChannelTokens({ tenantId }));
    for (const channel of channels) answers.push(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id }));
    await h.simulator.inject({ kind: "throttle", retryAfterSeconds: 3 });
    await h.simulator.inject({ kind: "unavailable" });
    await h.simulator.revoke(channels[6]!.refreshToken!);
    for (const channel of channels) answers.push(await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id }));
    answers.push(await h.refresca.getChannelsNeedingTokenRefresh({ tenantId, refreshBeforeMinutes: 525_600 }));
    answers.push(await h.refresca.getRefreshStatistics({ tenantId }));
    answers.push(await h.refresca.channels.list({ tenantId }));
    for (const channel of channels) answers.push(await h.refresca.channels.get({ tenantId, channelId: channel.id }));

    const tokens = await h.simulator.issuedTokens();
    expect(tokens.length).toBeGreaterThan(channels.length); // refreshes minted new ones too
    const secrets = [...tokens, SIM_META_APP_SECRET, SIM_TIKTOK_CLIENT_SECRET, TEST_KEYS.split(":")[1]!];

    const { stdout: dump } = await run("pg_dump", ["--data-only", "--schema", h.schema, TEST_DATABASE_URL], {
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(dump).toContain(channels[0]!.id); // the dump is the real one
    const logs = h.logs.join("\n");
    expect(logs.length).toBeGreaterThan(0);
    const answerText = JSON.stringify(answers);
    for (const secret of secrets) {
      expect(dump.includes(secret), "database dump").toBe(false);
      expect(logs.includes(secret), "logs").toBe(false);
      expect(answerText.includes(secret), "answers").toBe(false);
    }
  });
});
