import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./support/harness";

// Scaled down for the suite: TikTok tokens living SOAK_TOKEN_SECONDS, watched for SOAK_SECONDS.
// `npm run soak` runs the full version: tokens living 2 minutes, watched for 10 minutes.
const TOKEN_SECONDS = Number(process.env.SOAK_TOKEN_SECONDS ?? 30);
const RUN_SECONDS = Number(process.env.SOAK_SECONDS ?? 75);
const CHANNELS = 50;

interface Scenario {
  name: string;
  h: Harness;
  tenantId: string;
}

const scenarios: Scenario[] = [];

async function startScenario(name: string, sweep: boolean): Promise<Scenario> {
  const h = await startHarness({ simulator: { tiktok: { accessLifetimeSeconds: TOKEN_SECONDS } } });
  const tenantId = h.tenant();
  for (let i = 0; i < CHANNELS; i++) await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: TOKEN_SECONDS });
  await h.refresca.startWorker();
  if (sweep) {
    const scheduled = await h.refresca.scheduleRecurringTokenRefresh({ tenantId, intervalMinutes: 1 });
    if (!scheduled.success) throw new Error(scheduled.error);
  }
  return { name, h, tenantId };
}

beforeAll(async () => {
  scenarios.push(await startScenario("with a recurring sweep every minute", true));
  scenarios.push(await startScenario("with the plan in SQL alone (no sweep)", false));
});
afterAll(async () => {
  await Promise.all(scenarios.map((scenario) => scenario.h.close()));
});

describe(`${CHANNELS} TikTok channels whose tokens live ${TOKEN_SECONDS} s`, () => {
  it(
    `stay alive for ${RUN_SECONDS} s, with and without a recurring sweep`,
    async () => {
      const deadline = Date.now() + RUN_SECONDS * 1000;
      const worst = new Map<string, number>();
      while (Date.now() < deadline) {
        for (const { name, h, tenantId } of scenarios) {
          const [row] = await h.sql(
            `select count(*) filter (where expires_at <= now())::int as expired,
                    count(*) filter (where status <> 'active')::int as flagged,
                    extract(epoch from min(expires_at) - now())::float as soonest
               from channels where tenant_id = $1`,
            [tenantId],
          );
          expect(row.expired, `${name}: a token expired`).toBe(0);
          expect(row.flagged, `${name}: a channel was flagged`).toBe(0);
          worst.set(name, Math.min(worst.get(name) ?? Infinity, row.soonest));
        }
        await sleep(500);
      }
      for (const { name, h, tenantId } of scenarios) {
        const [events] = await h.sql(
          "select count(*) filter (where outcome = 'success')::int as ok, count(*) filter (where outcome <> 'success')::int as failed from refresh_events where tenant_id = $1",
          [tenantId],
        );
        // Every channel was refreshed at least once per token lifetime that passed.
        expect(events.ok, name).toBeGreaterThanOrEqual(CHANNELS * Math.floor(RUN_SECONDS / TOKEN_SECONDS));
        expect(events.failed, name).toBe(0);
        expect((await h.simulator.stats()).reuseDetected, name).toBe(0);
        console.log(`${name}: ${events.ok} refreshes; closest any token came to expiring: ${worst.get(name)!.toFixed(1)} s`);
      }
    },
    (RUN_SECONDS + 60) * 1000,
  );
});
