import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./support/harness";

let h: Harness;
beforeAll(async () => {
  // Latency keeps the platform call in flight long enough for every caller to pile up behind it.
  h = await startHarness({ simulator: { latencyMs: 300 } });
});
afterAll(async () => {
  await h?.close();
});

function startProcess(args: object): { child: ChildProcessWithoutNullStreams; lines: AsyncIterator<string> } {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/refresh-burst.ts", JSON.stringify(args)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, lines };
}

describe("single flight", () => {
  it("makes one platform call for 100 concurrent refreshes spread over 3 processes", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok" });
    const { logger: _ignored, ...options } = h.options;
    const shares = [34, 33, 33];
    const processes = shares.map((count) => startProcess({ options, tenantId, channelId: channel.id, count }));
    try {
      for (const { lines } of processes) expect((await lines.next()).value).toBe("ready");
      for (const { child } of processes) child.stdin.write("go\n");
      const answers = (await Promise.all(processes.map(async ({ lines }) => JSON.parse((await lines.next()).value)))).flat();
      expect(answers).toHaveLength(100);
      expect(answers.every((answer: { success: boolean }) => answer.success)).toBe(true);
      expect(new Set(answers.map((answer: { newExpiresAt: string }) => answer.newExpiresAt)).size).toBe(1);
      const stats = await h.simulator.stats();
      expect(stats.calls.tiktok).toBe(1);
      expect(stats.callsForToken(channel.refreshToken!)).toBe(1);
      expect(stats.reuseDetected).toBe(0);
      const events = await h.sql("select outcome from refresh_events where tenant_id = $1", [tenantId]);
      expect(events).toEqual([{ outcome: "success" }]);
    } finally {
      for (const { child } of processes) child.kill();
    }
  });
});
