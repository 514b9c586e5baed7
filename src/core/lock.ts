import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";

// Deletes the lock only if it still holds our owner value: a lock that expired and was taken by someone else
// must not be released by us.
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

/** A Redis lock per channel with an owner value, shared by every Refresca process on the same Redis. */
export class ChannelLock {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Longer than the platform call's deadline plus the save, so a live owner never loses it. */
    private readonly ttlMs: number,
  ) {}

  private key(tenantId: string, channelId: string): string {
    // Encoded: ids may contain ":", and two channels must never share a lock.
    return `${this.prefix}lock:${encodeURIComponent(tenantId)}:${encodeURIComponent(channelId)}`;
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
