import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** How repeated failed sign-ins from one address are slowed down. */
export interface ThrottlePolicy {
  /** Failures from one address tolerated before it is locked out. @defaultValue 5 */
  freeFailures: number;
  /** The first lockout; each further failure doubles it. @defaultValue 15 */
  firstLockoutSeconds: number;
  /** @defaultValue 900 (15 minutes) */
  maxLockoutSeconds: number;
  /** How long failures are remembered after the last one. @defaultValue 3600 */
  memorySeconds: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  freeFailures: 5,
  firstLockoutSeconds: 15,
  maxLockoutSeconds: 900,
  memorySeconds: 3600,
};

// Count the failure and, past the free ones, lock the address out for a doubling time — atomically, so parallel
// guesses cannot slip between the count and the lock.
const FAIL = `
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local free = tonumber(ARGV[2])
if n < free then return 0 end
local seconds = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (n - free))
redis.call('SET', KEYS[2], n, 'EX', math.floor(seconds))
return math.floor(seconds)
`;

/** Failed sign-ins per client address, in Redis so that every web process shares the count. */
export class SignInThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly policy: ThrottlePolicy = DEFAULT_THROTTLE,
  ) {}

  // Hashed: an address (or whatever a proxy sent as one) never becomes part of a key as typed.
  private keys(ip: string) {
    const id = createHash("sha256").update(ip).digest("hex").slice(0, 32);
    return { failures: `${this.keyPrefix}signin:failures:${id}`, lock: `${this.keyPrefix}signin:lock:${id}` };
  }

  /** Seconds the address must still wait before it may try again (0: it may try now). */
  async lockedFor(ip: string): Promise<number> {
    const ms = await this.redis.pttl(this.keys(ip).lock);
    return ms > 0 ? Math.ceil(ms / 1000) : 0;
  }

  /** Records a failure; answers the lockout it caused in seconds (0: none yet). */
  async failed(ip: string): Promise<number> {
    const keys = this.keys(ip);
    const p = this.policy;
    return Number(
      await this.redis.eval(FAIL, 2, keys.failures, keys.lock, p.memorySeconds, p.freeFailures, p.firstLockoutSeconds, p.maxLockoutSeconds),
    );
  }

  /** A successful sign-in forgets the address's failures. */
  async succeeded(ip: string): Promise<void> {
    const keys = this.keys(ip);
    await this.redis.del(keys.failures, keys.lock);
  }
}
