import type { Redis } from "ioredis";
import { REFRESH_QUEUE, type RedisNames } from "./names";

// Counts one tenant's live jobs by state, reading BullMQ's structures only for that tenant's job ids: the cost
// grows with the tenant's own jobs, never with the whole queue. Ids whose job finished or vanished are dropped.
const STATUS = `
local ids = redis.call('SMEMBERS', KEYS[1])
local active = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do active[id] = true end
local nActive, nWaiting, nDelayed = 0, 0, 0
for _, id in ipairs(ids) do
  if active[id] then
    nActive = nActive + 1
  elseif redis.call('ZSCORE', KEYS[2], id) then
    nDelayed = nDelayed + 1
  else
    local jobKey = ARGV[1] .. id
    if redis.call('EXISTS', jobKey) == 0 or redis.call('HEXISTS', jobKey, 'finishedOn') == 1 then
      redis.call('SREM', KEYS[1], id)
    else
      nWaiting = nWaiting + 1
    end
  end
end
local counts = redis.call('HMGET', KEYS[4], 'completed', 'failed')
return {nActive, nWaiting, nDelayed, tonumber(counts[1]) or 0, tonumber(counts[2]) or 0}
`;

export interface TenantJobStatus {
  jobsActive: number;
  jobsWaiting: number;
  jobsDelayed: number;
  jobsCompleted: number;
  jobsFailed: number;
}

/** Keeps, per tenant, the set of its live refresh jobs and the count of its finished ones. */
export class TenantJobs {
  constructor(
    private readonly redis: Redis,
    private readonly names: RedisNames,
  ) {}

  async track(tenantId: string, jobIds: string[]): Promise<void> {
    if (jobIds.length > 0) await this.redis.sadd(this.names.tenantJobs(tenantId), ...jobIds);
  }

  async untrack(tenantId: string, jobIds: string[]): Promise<void> {
    if (jobIds.length > 0) await this.redis.srem(this.names.tenantJobs(tenantId), ...jobIds);
  }

  async finished(tenantId: string, jobId: string, outcome: "completed" | "failed"): Promise<void> {
    await this.redis
      .multi()
      .srem(this.names.tenantJobs(tenantId), jobId)
      .hincrby(this.names.tenantCounts(tenantId), outcome, 1)
      .exec();
  }

  async status(tenantId: string): Promise<TenantJobStatus> {
    const queueKey = `${this.names.bullPrefix}:${REFRESH_QUEUE}:`;
    const [active, waiting, delayed, completed, failed] = (await this.redis.eval(
      STATUS,
      4,
      this.names.tenantJobs(tenantId),
      `${queueKey}delayed`,
      `${queueKey}active`,
      this.names.tenantCounts(tenantId),
      queueKey,
    )) as number[];
    return { jobsActive: active!, jobsWaiting: waiting!, jobsDelayed: delayed!, jobsCompleted: completed!, jobsFailed: failed! };
  }
}
