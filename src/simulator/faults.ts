import type { SimPlatform } from "./options";

export type FaultKind = "throttle" | "unavailable" | "html502" | "timeout" | "malformed";

/** A failure the next `count` calls of one platform (or of all) answer with instead of the real thing. */
export interface Fault {
  /**
   * throttle: Meta Graph code 4 (80002 for Instagram, 613 for Threads) with usage headers, TikTok 429 `rate_limit_exceeded`;
   * unavailable: Graph 500 code 2 `is_transient`, TikTok 503 `temporarily_unavailable` / 500 `server_error`;
   * html502: a 502 with an HTML body; timeout: never answers until the client goes away;
   * malformed: a 200 whose body is not a valid token answer.
   */
  kind: FaultKind;
  /** Only this platform's calls; every platform's when absent. */
  platform?: SimPlatform;
  /** @defaultValue 1 */
  count?: number;
  /** Every call during this many seconds from now fails (an outage by the clock); `count` is then ignored. */
  forSeconds?: number;
  /** Adds a `Retry-After` header, in seconds. */
  retryAfterSeconds?: number;
  /** Meta throttle: `estimated_time_to_regain_access` (minutes). @defaultValue ceil(retryAfterSeconds / 60), else 1 */
  regainAccessMinutes?: number;
  /** Meta throttle: the Graph error code. @defaultValue 4 (80002 for Instagram, 613 for Threads) */
  graphCode?: number;
  /** TikTok unavailable: 503 answers `temporarily_unavailable`, 500 `server_error`. @defaultValue 503 */
  status?: 500 | 503;
}

/** Pending faults, consumed in the order they were injected, one per call (or, with `forSeconds`, until a time). */
export class FaultQueue {
  private pending: Array<Fault & { remaining: number; until?: number }> = [];

  add(fault: Fault): void {
    if (fault.forSeconds !== undefined) {
      this.pending.push({ ...fault, remaining: Infinity, until: Date.now() + fault.forSeconds * 1000 });
      return;
    }
    const remaining = fault.count ?? 1;
    if (remaining > 0) this.pending.push({ ...fault, remaining });
  }

  take(platform: string): Fault | undefined {
    const now = Date.now();
    this.pending = this.pending.filter((f) => f.until === undefined || f.until > now);
    const index = this.pending.findIndex((f) => f.platform === undefined || f.platform === platform);
    const entry = this.pending[index];
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.pending.splice(index, 1);
    const { remaining: _remaining, until: _until, ...fault } = entry;
    return fault;
  }

  clear(): void {
    this.pending = [];
  }
}
