import type { Logger } from "../logger";
import type { TokenReadCount } from "../store";

/** Where the counts go: the store's token_reads table (an interface so a test can make it fail). */
export interface TokenReadSink {
  add(counts: readonly TokenReadCount[]): Promise<void>;
  deleteOlderThan(before: Date): Promise<number>;
}

export interface TokenReadAuditOptions {
  /** How often the counts are written. @defaultValue 5000 */
  flushIntervalMs: number;
  /**
   * The most (tenant, channel, reader, minute) counts held in memory. While the database is away, counts that do not
   * fit are dropped with a warning rather than growing the process without bound. @defaultValue 50000
   */
  maxPendingCounts: number;
  /** Counts older than this many days are deleted. @defaultValue 90 */
  retentionDays: number;
  /** How often the old counts are deleted. @defaultValue 3600000 (an hour) */
  purgeIntervalMs: number;
}

export const DEFAULT_TOKEN_READ_AUDIT_OPTIONS: TokenReadAuditOptions = {
  flushIntervalMs: 5_000,
  maxPendingCounts: 50_000,
  retentionDays: 90,
  purgeIntervalMs: 3_600_000,
};

/** Who read which channel's token, and whether the read refreshed it. Never the token. */
export interface TokenRead {
  tenantId: string;
  channelId: string;
  reader: string;
  refreshed: boolean;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/**
 * The audit of token reads. A read only adds to a count in memory (no I/O, nothing awaited), so recording never
 * slows it; a timer writes the counts in one statement every few seconds, and `close()` writes what is left.
 */
export class TokenReadAudit {
  private pending = new Map<string, TokenReadCount>();
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastPurgeAt = 0;
  private dropped = 0;
  private closed = false;

  constructor(
    private readonly sink: TokenReadSink,
    private readonly logger: Logger,
    private readonly options: TokenReadAuditOptions = DEFAULT_TOKEN_READ_AUDIT_OPTIONS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one read. Synchronous: the read that calls it never waits for the database. */
  record(read: TokenRead): void {
    const minute = Math.floor(this.now() / MINUTE_MS) * MINUTE_MS;
    const key = `${read.tenantId}\u0000${read.channelId}\u0000${read.reader}\u0000${minute}`;
    const count = this.pending.get(key);
    if (count) {
      count.reads += 1;
      if (read.refreshed) count.refreshed += 1;
    } else if (this.pending.size < this.options.maxPendingCounts) {
      const { tenantId, channelId, reader } = read;
      this.pending.set(key, { tenantId, channelId, reader, minute: new Date(minute), reads: 1, refreshed: read.refreshed ? 1 : 0 });
    } else {
      this.dropped += 1;
    }
  }

  /** How many counts wait to be written. */
  get pendingCounts(): number {
    return this.pending.size;
  }

  /** Starts the timer that writes the counts and now and then deletes old ones. It does not keep the process alive. */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.tick(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  /**
   * Writes the counts held now. Never rejects: when the write fails the counts are kept for the next try (within
   * `maxPendingCounts`) and a warning is logged. Resolves to whether everything held was written.
   */
  async flush(): Promise<boolean> {
    // One write at a time: a caller arriving during one waits for it, then writes what arrived meanwhile.
    while (this.writing) await this.writing;
    this.reportDropped();
    if (this.pending.size === 0) return true;
    const batch = this.pending;
    this.pending = new Map();
    let written = false;
    this.writing = this.write(batch).then((ok) => void (written = ok));
    try {
      await this.writing;
    } finally {
      this.writing = undefined;
    }
    return written;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async tick(): Promise<void> {
    await this.flush();
    if (this.now() - this.lastPurgeAt >= this.options.purgeIntervalMs) await this.purge();
  }

  /** Deletes counts older than the retention period. */
  async purge(): Promise<void> {
    this.lastPurgeAt = this.now();
    try {
      const deleted = await this.sink.deleteOlderThan(new Date(this.now() - this.options.retentionDays * DAY_MS));
      if (deleted > 0) this.logger.debug({ deleted }, "old token read counts deleted");
    } catch (error) {
      this.logger.warn({ err: describe(error) }, "could not delete old token read counts; will try again later");
    }
  }

  private async write(batch: Map<string, TokenReadCount>): Promise<boolean> {
    try {
      await this.sink.add([...batch.values()]);
      return true;
    } catch (error) {
      this.keep(batch);
      this.logger.warn(
        { err: describe(error), pendingCounts: this.pending.size },
        "could not write the token read audit; the counts are kept for the next try",
      );
      return false;
    }
  }

  /** Puts a batch that could not be written back, merged with what arrived meanwhile, within the cap. */
  private keep(batch: Map<string, TokenReadCount>): void {
    const arrived = this.pending;
    this.pending = batch;
    for (const [key, count] of arrived) {
      const kept = this.pending.get(key);
      if (kept) {
        kept.reads += count.reads;
        kept.refreshed += count.refreshed;
      } else if (this.pending.size < this.options.maxPendingCounts) {
        this.pending.set(key, count);
      } else {
        this.dropped += count.reads;
      }
    }
  }

  private reportDropped(): void {
    if (this.dropped === 0) return;
    this.logger.warn(
      { droppedReads: this.dropped, maxPendingCounts: this.options.maxPendingCounts },
      "token reads were not audited: too many counts were waiting to be written",
    );
    this.dropped = 0;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
