import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RefreshError, type ErrorCode } from "../src/core/errors";
import { ChannelLock } from "../src/core/lock";
import { createLogger } from "../src/core/logger";
import { tiktokCapabilities } from "../src/core/providers/tiktok/capabilities";
import type { PlatformProvider } from "../src/core/providers/types";
import { ChannelRefresher } from "../src/core/refresh";
import type { Platform, TokenSet } from "../src/core/types";
import { deleteKeys, startHarness, type Harness } from "./support/harness";

// The invariant of issue 10: an active channel whose token expires (and can be refreshed) always has a planned
// refresh. Random sequences of outcomes, crashes, Redis losses and reconnects go through the real store (PostgreSQL)
// and the real outcome-writing code (ChannelRefresher, with a platform that answers as each step says); after every
// step the plan is read back from SQL.

type Step =
  | { kind: "success"; channel: number; expiresInSeconds: number }
  | { kind: "failure"; channel: number; code: ErrorCode; retryAfterSeconds?: number; appWide?: boolean }
  | { kind: "crash"; channel: number }
  | { kind: "reconnect"; channel: number; expiresInSeconds: number | null }
  | { kind: "redisFlush" }
  | { kind: "schedulerTick" }
  | { kind: "stalledJob" };

const CHANNELS: Platform[] = ["tiktok", "facebook", "instagram"];
const channel = fc.integer({ min: 0, max: CHANNELS.length - 1 });
// From already expired to two months ahead.
const lifetime = fc.integer({ min: -3600, max: 60 * 86_400 });
const waitSeconds = fc.integer({ min: 1, max: 3600 });

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("success" as const), channel, expiresInSeconds: fc.integer({ min: 60, max: 60 * 86_400 }) }),
  fc.record({ kind: fc.constant("failure" as const), channel, code: fc.constantFrom<ErrorCode>("PLATFORM_UNAVAILABLE", "INVALID_RESPONSE", "INTERNAL") }),
  fc.record(
    { kind: fc.constant("failure" as const), channel, code: fc.constant<ErrorCode>("RATE_LIMITED"), retryAfterSeconds: waitSeconds, appWide: fc.boolean() },
    { requiredKeys: ["kind", "channel", "code"] },
  ),
  fc.record(
    { kind: fc.constant("failure" as const), channel, code: fc.constant<ErrorCode>("TOO_EARLY"), retryAfterSeconds: waitSeconds },
    { requiredKeys: ["kind", "channel", "code"] },
  ),
  fc.record({ kind: fc.constant("failure" as const), channel, code: fc.constant<ErrorCode>("INVALID_CREDENTIALS") }),
  fc.record({ kind: fc.constant("crash" as const), channel }),
  fc.record({ kind: fc.constant("reconnect" as const), channel, expiresInSeconds: fc.option(lifetime, { freq: 6 }) }),
  fc.constant({ kind: "redisFlush" as const }),
  fc.constant({ kind: "schedulerTick" as const }),
  fc.constant({ kind: "stalledJob" as const }),
);

let h: Harness;
let refresher: ChannelRefresher;
/** What the platform answers to the next call. */
let answer: () => Promise<TokenSet> = () => Promise.reject(new RefreshError("INTERNAL"));

beforeAll(async () => {
  h = await startHarness();
  const { store, redis, keyRing, keyPrefix, queue } = h.refresca.internals;
  const platform: PlatformProvider = { platform: "tiktok", capabilities: tiktokCapabilities, refresh: () => answer() };
  refresher = new ChannelRefresher({
    store,
    redis,
    keyPrefix,
    keyRing,
    lock: new ChannelLock(redis, keyPrefix, 5000),
    providerFor: () => platform,
    logger: createLogger({ level: "silent" }),
    settings: queue.settings,
  });
});
afterAll(async () => {
  await h?.close();
});

const seconds = (n: number) => new Date(Date.now() + n * 1000);
let serial = 0;
const token = () => `token-${++serial}-${Math.random().toString(36).slice(2)}`;

async function reconnect(tenantId: string, index: number, expiresInSeconds: number | null) {
  const type = CHANNELS[index]!;
  const answer = await h.refresca.channels.upsert({
    tenantId,
    id: `c${index}`,
    type,
    displayName: type,
    accessToken: token(),
    ...(type === "tiktok" && { refreshToken: token() }),
    expiresAt: expiresInSeconds === null ? null : seconds(expiresInSeconds).toISOString(),
  });
  if (!answer.success) throw new Error(answer.error);
}

async function apply(tenantId: string, s: Step): Promise<void> {
  const { store, queue, scheduler, keyPrefix } = h.refresca.internals;
  switch (s.kind) {
    case "success":
      answer = async () => ({ accessToken: token(), refreshToken: token(), expiresAt: seconds(s.expiresInSeconds) });
      await refresher.refresh({ tenantId, channelId: `c${s.channel}`, trigger: "manual" });
      return;
    case "failure":
      answer = () =>
        Promise.reject(
          new RefreshError(s.code, {
            ...(s.retryAfterSeconds !== undefined && { retryAfterMs: s.retryAfterSeconds * 1000 }),
            ...(s.appWide && { details: { throttleScope: "app" } }),
          }),
        );
      await refresher.refresh({ tenantId, channelId: `c${s.channel}`, trigger: "manual" });
      return;
    case "crash":
      // The process died between the platform's answer and the save: the claim was written, nothing after it.
      await store.channels.claimForRefresh(tenantId, `c${s.channel}`, {
        attemptId: "crashed",
        ifExpiresBy: null,
        version: null,
        fallbackPlan: new Date(Date.now() + queue.settings.attemptLeaseMs),
        force: false,
      });
      return;
    case "reconnect":
      return reconnect(tenantId, s.channel, s.expiresInSeconds);
    case "redisFlush":
      await deleteKeys(keyPrefix);
      return;
    case "schedulerTick":
      await scheduler.tick();
      return;
    case "stalledJob": {
      // A worker took the queued refreshes and died with them; BullMQ failed them after two stalls.
      await scheduler.tick();
      const jobs = await queue.refresh.getJobs(["waiting", "delayed"]);
      await Promise.all(jobs.filter((job) => job?.data.tenantId === tenantId).map((job) => job.remove()));
      return;
    }
  }
}

/** Every channel of the tenant that breaks the invariant, with why. */
async function violations(tenantId: string): Promise<unknown[]> {
  return h.sql(
    `select id, status, expires_at, next_refresh_at, not_before,
            case when status = 'active' and expires_at is not null and has_refresh_token and next_refresh_at is null
                   then 'no plan'
                 when status <> 'active' and next_refresh_at is not null
                   then 'a plan for a channel nobody may refresh'
                 when not_before > now() and next_refresh_at < not_before
                   then 'planned before the platform allows'
            end as problem
       from channels
      where tenant_id = $1
        and ((status = 'active' and expires_at is not null and has_refresh_token and next_refresh_at is null)
          or (status <> 'active' and next_refresh_at is not null)
          or (not_before > now() and next_refresh_at < not_before))`,
    [tenantId],
  );
}

describe("the keep-alive invariant", () => {
  it("holds after every step of random sequences of outcomes, crashes, Redis losses and reconnects", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), fc.array(lifetime, { minLength: 3, maxLength: 3 }), async (steps, lifetimes) => {
        const tenantId = h.tenant();
        // A platform app throttled by an earlier run would keep this run's calls from happening.
        await h.sql("delete from platform_throttles");
        for (const [index, expiresIn] of lifetimes.entries()) await reconnect(tenantId, index, expiresIn);
        expect(await violations(tenantId)).toEqual([]);
        for (const s of steps) {
          const before = (await h.sql("select id, expires_at from channels where tenant_id = $1", [tenantId])) as Array<{ id: string; expires_at: Date | null }>;
          await apply(tenantId, s);
          expect(await violations(tenantId), JSON.stringify(s)).toEqual([]);
          // A transient failure of a token that has not expired plans the next attempt before it does.
          if (s.kind === "failure" && s.code === "PLATFORM_UNAVAILABLE") {
            const expiresAt = before.find((row) => row.id === `c${s.channel}`)?.expires_at;
            const [row] = await h.sql("select next_refresh_at, not_before, status from channels where tenant_id = $1 and id = $2", [tenantId, `c${s.channel}`]);
            if (expiresAt && expiresAt.getTime() > Date.now() + 5000 && row.status === "active" && !(row.not_before > new Date())) {
              expect(row.next_refresh_at.getTime(), JSON.stringify(s)).toBeLessThan(expiresAt.getTime());
            }
          }
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
