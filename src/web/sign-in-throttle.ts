import { createHash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import type { Redis } from "ioredis";
import { redisNames } from "../core/redis-names";

/** How repeated failed sign-ins from one address are slowed down. */
export interface ThrottlePolicy {
  /** Failed attempts from one address (an IPv6 client: its /64) tolerated before it is locked out. @defaultValue 5 */
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

// Every attempt is counted as a failure before its key is looked at, and the lock is decided in the same script:
// parallel guesses cannot all pass a "not locked yet" check before any of them is counted. The attempt that uses up
// the free ones sets the lock itself (a right key then clears it). KEYS: failures, lock. ARGV: memory, free, first,
// max. Returns { 1, lockout seconds this attempt causes if it fails } or { 0, milliseconds the lock still lasts }.
const ATTEMPT = `
local locked = redis.call('PTTL', KEYS[2])
if locked > 0 then return { 0, locked } end
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local free = tonumber(ARGV[2])
if n < free then return { 1, 0 } end
local seconds = math.floor(math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (n - free)))
redis.call('SET', KEYS[2], n, 'EX', seconds)
return { 1, seconds }
`;

/**
 * The group an address is counted under: an IPv4 address itself (also when written IPv4-mapped, `::ffff:a.b.c.d`),
 * an IPv6 address's /64 — one subscriber usually holds a whole /64 and could rotate through it — and anything else
 * (a proxy's odd value, "unknown") as it is.
 */
export function clientGroup(ip: string): string {
  const address = ip.trim().replace(/%.*$/, "");
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return ip;
  const hextets = expandIPv6(address.toLowerCase());
  if (hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff) {
    return [hextets[6]! >> 8, hextets[6]! & 255, hextets[7]! >> 8, hextets[7]! & 255].join(".");
  }
  return `${hextets.slice(0, 4).map((h) => h.toString(16)).join(":")}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` and a trailing dotted IPv4 part expanded). */
function expandIPv6(address: string): number[] {
  const parse = (part: string) =>
    part === ""
      ? []
      : part.split(":").flatMap((group) => {
          if (!group.includes(".")) return [parseInt(group, 16)];
          const [a, b, c, d] = group.split(".").map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = "", tail] = address.split("::");
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** What one sign-in attempt came to. */
export type SignInAttempt<T> =
  | { outcome: "locked"; waitSeconds: number }
  | { outcome: "signed-in"; holder: T }
  | { outcome: "failed"; lockoutSeconds: number };

/** Failed sign-ins per client address, in Redis so that every web process shares the count. */
export class SignInThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly policy: ThrottlePolicy = DEFAULT_THROTTLE,
  ) {}

  // Hashed: an address (or whatever a proxy sent as one) never becomes part of a key as typed.
  private keys(ip: string) {
    const id = createHash("sha256").update(clientGroup(ip)).digest("hex").slice(0, 32);
    const names = redisNames(this.keyPrefix);
    return { failures: names.signInFailures(id), lock: names.signInLock(id) };
  }

  /**
   * One sign-in attempt from `ip`, counted before `check` looks the key up; `check` does not run while the address is
   * locked out. Answers who signed in, or the failure and the lockout it caused (0: none yet), or the wait.
   */
  async attempt<T>(ip: string, check: () => Promise<T | null>): Promise<SignInAttempt<T>> {
    const keys = this.keys(ip);
    const p = this.policy;
    const [allowed, amount] = (await this.redis.eval(
      ATTEMPT, 2, keys.failures, keys.lock, p.memorySeconds, p.freeFailures, p.firstLockoutSeconds, p.maxLockoutSeconds,
    )) as [number, number];
    if (allowed !== 1) return { outcome: "locked", waitSeconds: Math.max(1, Math.ceil(amount / 1000)) };
    const holder = await check();
    if (holder) {
      await this.succeeded(ip);
      return { outcome: "signed-in", holder };
    }
    return { outcome: "failed", lockoutSeconds: amount };
  }

  /** A successful sign-in forgets the address's failures. */
  async succeeded(ip: string): Promise<void> {
    const keys = this.keys(ip);
    await this.redis.del(keys.failures, keys.lock);
  }
}
