import type { Redis } from "ioredis";
import { REFRESH_QUEUE, type RedisNames } from "./names";

// Each tenant's unfinished refresh jobs live in a sorted set scored by when each is due. Waiting and delayed are
// then two counts by score (O(log n)); the active ones are found by walking BullMQ's active list, whose length is the
// workers' total concurrency whatever the number of jobs. The status call's cost does not grow with the tenant's jobs.
const STATUS = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local active, activeDue = 0, 0
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score then
    active = active + 1
    if tonumber(score) <= now then activeDue = activeDue + 1 end
  end
end
local due = redis.call('ZCOUNT', KEYS[1], '-inf', now)
local all = redis.call('ZCARD', KEYS[1])
local counts = redis.call('HMGET', KEYS[3], 'completed', 'failed')
return {active, due - activeDue, (all - due) - (active - activeDue), tonumber(counts[1]) or 0, tonumber(counts[2]) or 0}
`;

// Drops entries whose job finished or vanished without its worker telling (a process killed between BullMQ's
// finish and ours), counting finished ones by outcome. Only entries due a while ago, a bounded number per call.
const PRUNE = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local pruned = 0
for _, id in ipairs(ids) do
  local jobKey = ARGV[3] .. id
  if redis.call('EXISTS', jobKey) == 0 then
    redis.call('ZREM', KEYS[1], id)
    pruned = pruned + 1
  elseif redis.call('HEXISTS', jobKey, 'finishedOn') == 1 then
    redis.call('ZREM', KEYS[1], id)
    local failed = redis.call('HEXISTS', jobKey, 'failedReason') == 1 and redis.call('HGET', jobKey, 'returnvalue') == false
    redis.call('HINCRBY', KEYS[2], failed and 'failed' or 'completed', 1)
    pruned = pruned + 1
  end
end
return pruned
`;

export interface TenantJobStatus {
  jobsActive: number;
  jobsWaiting: number;
  jobsDelayed: number;
  jobsCompleted: number;
  jobsFailed: number;
}

/** Keeps, per tenant, its unfinished refresh jobs by due time and the count of its finished ones. */
export class TenantJobs {
  constructor(
    private readonly redis: Redis,
    private readonly names: RedisNames,
  ) {}

  /** Jobs queued (or moved): each is due at its instant (ms). */
  async track(tenantId: string, jobs: ReadonlyArray<{ id: string; dueAt: number }>): Promise<void> {
    if (jobs.length === 0) return;
    await this.redis.zadd(this.names.tenantJobs(tenantId), ...jobs.flatMap((job) => [job.dueAt, job.id]));
  }

  async untrack(tenantId: string, jobIds: string[]): Promise<void> {
    if (jobIds.length > 0) await this.redis.zrem(this.names.tenantJobs(tenantId), ...jobIds);
  }

  async finished(tenantId: string, jobId: string, outcome: "completed" | "failed"): Promise<void> {
    await this.redis
      .multi()
      .zrem(this.names.tenantJobs(tenantId), jobId)
      .hincrby(this.names.tenantCounts(tenantId), outcome, 1)
      .exec();
  }

  async status(tenantId: string): Promise<TenantJobStatus> {
    const [active, waiting, delayed, completed, failed] = (await this.redis.eval(
      STATUS,
      3,
      this.names.tenantJobs(tenantId),
      `${this.names.bullPrefix}:${REFRESH_QUEUE}:active`,
      this.names.tenantCounts(tenantId),
    )) as number[];
    return { jobsActive: active!, jobsWaiting: waiting!, jobsDelayed: delayed!, jobsCompleted: completed!, jobsFailed: failed! };
  }

  /**
   * Drops the bookkeeping of jobs that finished or vanished unnoticed, looking at most `limit` entries of each tenant
   * due more than `olderThanMs` ago (work waiting in a backlog stays). Run now and then by workers; answers how many.
   */
  async prune(olderThanMs: number, limit = 500): Promise<number> {
    let pruned = 0;
    let cursor = "0";
    const pattern = this.names.tenantJobs("*");
    const queueKey = `${this.names.bullPrefix}:${REFRESH_QUEUE}:`;
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", pattern, "COUNT", 200);
      cursor = next;
      for (const key of keys) {
        const tenantId = key.slice(pattern.length - 1);
        pruned += (await this.redis.eval(PRUNE, 2, key, this.names.tenantCounts(tenantId), Date.now() - olderThanMs, limit, queueKey)) as number;
      }
    } while (cursor !== "0");
    return pruned;
  }
}
