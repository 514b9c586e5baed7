import { describe, expect, it } from "vitest";
import { TokenReadAudit, type TokenReadAuditOptions, type TokenReadSink } from "../src/core/audit/token-read-audit";
import { createLogger } from "../src/core/logger";
import type { TokenReadCount } from "../src/core/store";
import { waitFor } from "./support/wait";

// The batching itself, against a sink that can be told to fail: the database-backed behaviour (the upsert, reads
// never waiting for a write) is proved in token-access.test.ts.

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines };
}

class MemorySink implements TokenReadSink {
  written: TokenReadCount[][] = [];
  failing = false;
  purgedBefore: Date[] = [];
  async add(counts: readonly TokenReadCount[]) {
    if (this.failing) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
    this.written.push([...counts]);
  }
  async deleteOlderThan(before: Date) {
    this.purgedBefore.push(before);
    return 0;
  }
  total(field: "reads" | "refreshed" = "reads") {
    return this.written.flat().reduce((sum, count) => sum + count[field], 0);
  }
}

const OPTIONS: TokenReadAuditOptions = { flushIntervalMs: 3_600_000, maxPendingCounts: 3, retentionDays: 90, purgeIntervalMs: 3_600_000 };
const read = (channelId: string, refreshed = false) => ({ tenantId: "t1", channelId, reader: "library", refreshed });

describe("TokenReadAudit", () => {
  it("aggregates reads of one channel, reader and minute into one count, and a new minute into another", async () => {
    const sink = new MemorySink();
    let now = Date.parse("2026-12-01T10:00:10Z");
    const audit = new TokenReadAudit(sink, capture().logger, OPTIONS, () => now);
    audit.record(read("c1"));
    audit.record(read("c1", true));
    now += 60_000;
    audit.record(read("c1"));
    expect(await audit.flush()).toBe(true);
    expect(sink.written).toEqual([
      [
        { tenantId: "t1", channelId: "c1", reader: "library", minute: new Date("2026-12-01T10:00:00Z"), reads: 2, refreshed: 1 },
        { tenantId: "t1", channelId: "c1", reader: "library", minute: new Date("2026-12-01T10:01:00Z"), reads: 1, refreshed: 0 },
      ],
    ]);
    expect(await audit.flush()).toBe(true);
    expect(sink.written).toHaveLength(1); // nothing pending: no write
  });

  it("writes on its own timer, and purges old counts from it", async () => {
    const sink = new MemorySink();
    const audit = new TokenReadAudit(sink, capture().logger, { ...OPTIONS, flushIntervalMs: 20 });
    audit.start();
    try {
      audit.record(read("c1"));
      await waitFor("the timer to write the count", async () => sink.total() === 1, 2000);
      await waitFor("the timer to purge", async () => sink.purgedBefore.length === 1, 2000);
      expect(Date.now() - sink.purgedBefore[0]!.getTime()).toBeGreaterThanOrEqual(90 * 86_400_000);
    } finally {
      await audit.close();
    }
  });

  it("keeps the counts of a failed write, merged with later reads, and writes them next time", async () => {
    const sink = new MemorySink();
    const { logger, lines } = capture();
    const audit = new TokenReadAudit(sink, logger, OPTIONS);
    audit.record(read("c1"));
    audit.record(read("c2", true));
    sink.failing = true;
    expect(await audit.flush()).toBe(false);
    expect(lines.some((line) => line.includes("could not write the token read audit"))).toBe(true);
    audit.record(read("c1"));
    sink.failing = false;
    expect(await audit.flush()).toBe(true);
    expect(sink.total()).toBe(3);
    expect(sink.total("refreshed")).toBe(1);
    expect(audit.pendingCounts).toBe(0);
  });

  it("holds at most maxPendingCounts counts while the database is away, and says how many reads it dropped", async () => {
    const sink = new MemorySink();
    const { logger, lines } = capture();
    const audit = new TokenReadAudit(sink, logger, OPTIONS);
    sink.failing = true;
    for (const channel of ["c1", "c2", "c3", "c4", "c5"]) audit.record(read(channel));
    audit.record(read("c1")); // an existing count still grows
    expect(audit.pendingCounts).toBe(3);
    expect(await audit.flush()).toBe(false);
    const warning = lines.map((line) => JSON.parse(line)).find((entry) => entry.msg.includes("were not audited"));
    expect(warning).toMatchObject({ level: 40, droppedReads: 2, maxPendingCounts: 3 });
    sink.failing = false;
    await audit.close();
    expect(sink.total()).toBe(4);
  });

  it("writes what is left when closed, and then stops its timer", async () => {
    const sink = new MemorySink();
    const audit = new TokenReadAudit(sink, capture().logger, { ...OPTIONS, flushIntervalMs: 10 });
    audit.start();
    audit.record(read("c1"));
    await audit.close();
    expect(sink.total()).toBe(1);
    const writes = sink.written.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sink.written).toHaveLength(writes);
  });
});
