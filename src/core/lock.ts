import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { redisNames } from "./redis-names";

// Deletes the lock only if it still holds our owner value: a lock that expired and was taken by someone else
// must not be released by us.
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;
// Extends the lock only if it still holds our owner value: a lock that expired meanwhile is not ours to extend.
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;

/** A held lock kept alive by renewal. */
export interface LockHold {
  /** Stops renewing (the caller releases the lock itself). */
  stop(): void;
}

/** A Redis lock per channel with an owner value, shared by every Refresca process on the same Redis. */
export class ChannelLock {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /**
     * How long the lock lives without renewal: longer than a platform call's deadline plus one database step, so that
     * an owner whose renewals stopped (a long pause, Redis away) still finishes the step it is in before losing it.
     */
    private readonly ttlMs: number,
  ) {}

  private key(tenantId: string, channelId: string): string {
    return redisNames(this.prefix).channelLock(tenantId, channelId);
  }

  /** The owner value when taken, null when someone else holds it. */
  async tryAcquire(tenantId: string, channelId: string): Promise<string | null> {
    const owner = randomUUID();
    const ok = await this.redis.set(this.key(tenantId, channelId), owner, "PX", this.ttlMs, "NX");
    return ok === "OK" ? owner : null;
  }

  async release(tenantId: string, channelId: string, owner: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key(tenantId, channelId), owner);
  }

  /**
   * Renews the lock every third of its lifetime while the work under it runs (the platform call, the save and its
   * retries), so that a slow save never lets a second refresh in. A renewal Redis cannot answer is tried again at the
   * next tick; the lock then lives at most its TTL past the last renewal that went through. An owner that lost its
   * lock all the same cannot write over anyone: every write of an attempt's outcome is fenced by the attempt's id.
   */
  hold(tenantId: string, channelId: string, owner: string): LockHold {
    const key = this.key(tenantId, channelId);
    const timer = setInterval(() => {
      this.redis.eval(RENEW, 1, key, owner, this.ttlMs).catch(() => {});
    }, Math.max(10, Math.floor(this.ttlMs / 3)));
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  /**
   * Takes the lock, waiting for the current holder to finish: at most `maxWaitMs` (null when it is still held then),
   * by default one TTL, after which any lock has expired.
   */
  async acquire(tenantId: string, channelId: string, maxWaitMs = this.ttlMs + 1000, pollMs = 20): Promise<string | null> {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const owner = await this.tryAcquire(tenantId, channelId);
      if (owner) return owner;
      if (Date.now() > deadline) return null;
      await sleep(pollMs);
    }
  }

  /** How long the current holder's lock still lives (0 when free). */
  async remainingMs(tenantId: string, channelId: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(this.key(tenantId, channelId)));
  }
}
