import type { Logger } from "../logger";

/** How often the keys used meanwhile are written: `last_used_at` is accurate to about this. */
export const API_KEY_TOUCH_INTERVAL_MS = 60_000;

/**
 * Which REST API keys were used, written to `last_used_at` in batches. A write per request would double the token
 * route's database work for a timestamp nobody needs to the millisecond; instead the first use after a quiet spell
 * starts a timer, and when it fires one UPDATE marks every key used meanwhile. So each key is written at most once
 * per interval (per process), and a key nobody uses costs nothing.
 */
export class ApiKeyUsage {
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly touch: (ids: string[]) => Promise<void>,
    private readonly logger: Logger,
    private readonly intervalMs = API_KEY_TOUCH_INTERVAL_MS,
  ) {}

  /** Notes that the key was used; never waits for the database. */
  record(keyId: string): void {
    this.pending.add(keyId);
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => void this.flush(), this.intervalMs);
    // A pending timestamp must not keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  /** Writes what is pending now, in one statement. A failed write is logged and its keys kept for the next one. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const ids = [...this.pending];
    this.pending.clear();
    try {
      await this.touch(ids);
    } catch (error) {
      this.logger.warn({ keys: ids.length, err: (error as Error).message }, "could not record when API keys were last used");
      for (const id of ids) this.record(id);
    }
  }

  /** Writes what is pending and stops the timer (at shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
