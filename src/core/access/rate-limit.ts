import type { Redis } from "ioredis";
import { redisNames } from "../redis-names";

/** The REST API's per-key request rate: a steady rate and how many requests may come at once. */
export interface ApiRateLimit {
  /** Requests per second a key may keep up. @defaultValue 100 */
  perSecond: number;
  /** Requests a key that was idle may send at once. @defaultValue 500 */
  burst: number;
}

export const DEFAULT_API_RATE_LIMIT: ApiRateLimit = { perSecond: 100, burst: 500 };

/** Whether one request may go through, and if not, how long to wait (whole seconds, for `Retry-After`). */
export interface RateDecision {
  allowed: boolean;
  retryAfterSeconds: number;
}

// GCRA (the generic cell rate algorithm, a token bucket kept as one number): the key holds the "theoretical arrival
// time" (TAT) of the next request in milliseconds. A request is allowed when TAT minus the burst's worth of intervals
// is not in the future, and then moves TAT one interval on. Redis's own clock, so web processes on machines whose
// clocks disagree still share one bucket; the key expires when TAT is reached, since a key at rest holds nothing then.
// KEYS[1] the bucket; ARGV[1] interval (ms per request), ARGV[2] burst. Returns { allowed 0|1, wait in ms }.
const TAKE = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat + interval - burst * interval
if allow_at > now then
  return { 0, math.ceil(allow_at - now) }
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', next_tat), 'PX', math.max(1, math.ceil(next_tat - now)))
return { 1, 0 }
`;

const COMMAND = "refrescaApiRateTake";
type WithTake = Redis & { [COMMAND](key: string, intervalMs: number, burst: number): Promise<[number, number]> };

/**
 * The REST API's per-key request limit, in Redis so that every web process shares each key's bucket. One round trip
 * per request: the script is sent once and then called by its SHA (ioredis's defineCommand uses EVALSHA).
 */
export class ApiRateLimiter {
  private readonly redis: WithTake;
  private readonly intervalMs: number;

  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
    readonly limit: ApiRateLimit = DEFAULT_API_RATE_LIMIT,
  ) {
    if (!(limit.perSecond > 0) || !Number.isInteger(limit.burst) || limit.burst < 1) {
      throw new Error("An API rate limit needs perSecond > 0 and a whole burst of at least 1.");
    }
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: TAKE });
    this.redis = redis as WithTake;
    this.intervalMs = 1000 / limit.perSecond;
  }

  /** Takes one request from the key's bucket. Rejects when Redis cannot be reached (the caller decides what then). */
  async take(keyId: string): Promise<RateDecision> {
    const [allowed, waitMs] = await this.redis[COMMAND](redisNames(this.keyPrefix).apiRateLimit(keyId), this.intervalMs, this.limit.burst);
    return allowed === 1 ? { allowed: true, retryAfterSeconds: 0 } : { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }
}
