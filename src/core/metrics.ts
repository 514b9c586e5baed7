import http from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RefreshQueue } from "./queue/queue";

/** Prometheus metrics of a worker. Labels carry platforms, outcomes and states: never ids or tokens. */
export class Metrics {
  readonly registry = new Registry();
  readonly refreshes = new Counter({
    name: "refresca_refreshes_total",
    help: "Refresh attempts that reached a platform, by platform and outcome (success or error code).",
    labelNames: ["platform", "outcome"] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: "refresca_refresh_duration_seconds",
    help: "Duration of refresh attempts, platform call and save included.",
    labelNames: ["platform"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly jobs = new Counter({
    name: "refresca_jobs_finished_total",
    help: "Jobs finished by this worker, by queue and result.",
    labelNames: ["queue", "result"] as const,
    registers: [this.registry],
  });

  /** `unplannedChannels`: how many channels break the keep-alive invariant (the health check's count). */
  constructor(
    queue: RefreshQueue,
    private readonly health: { unplannedChannels?: () => Promise<number> } = {},
  ) {
    // No prefix: the process's metrics keep their standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes,
    // …), which the usual Node.js dashboards query; Refresca's own all start with refresca_.
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "refresca_queue_jobs",
      help: "Jobs in each queue by state, read from Redis at scrape time.",
      labelNames: ["queue", "state"] as const,
      registers: [this.registry],
      async collect() {
        for (const q of [queue.refresh, queue.sweep]) {
          const counts = await q.getJobCounts("active", "waiting", "delayed", "completed", "failed");
          for (const [state, count] of Object.entries(counts)) this.set({ queue: q.name, state }, count);
        }
      },
    });
    const unplanned = health.unplannedChannels;
    if (unplanned) {
      new Gauge({
        name: "refresca_channels_unplanned",
        help: "Active channels whose token expires with no refresh planned, or planned later than the grace allows: always 0 when all is well.",
        registers: [this.registry],
        async collect() {
          this.set(await unplanned());
        },
      });
    }
  }

  observeAttempt = (attempt: { platform: string; outcome: string; durationMs: number }) => {
    this.refreshes.inc({ platform: attempt.platform, outcome: attempt.outcome });
    this.duration.observe({ platform: attempt.platform }, attempt.durationMs / 1000);
  };

  /**
   * Serves GET /metrics (and GET /healthz) on the port; resolves once listening. Only on the loopback address unless
   * told otherwise (METRICS_HOST): the figures are not for the whole network to read.
   */
  async serve(port: number, host = "127.0.0.1"): Promise<http.Server> {
    const server = http.createServer(async (req, res) => {
      if (req.url === "/metrics") {
        try {
          const body = await this.registry.metrics();
          res.writeHead(200, { "content-type": this.registry.contentType }).end(body);
        } catch {
          res.writeHead(503, { "content-type": "text/plain" }).end("metrics unavailable: is Redis reachable?\n");
        }
      } else if (req.url === "/healthz") {
        // The process answers, and says how many channels break the keep-alive invariant (alert when not 0): a
        // restart would not plan them, so this stays 200 for a liveness probe.
        let unplannedChannels: number | null = null;
        try {
          unplannedChannels = (await this.health.unplannedChannels?.()) ?? null;
        } catch {
          // The database is away: the count is unknown.
        }
        const status = unplannedChannels === null ? "unknown" : unplannedChannels === 0 ? "ok" : "unplanned channels";
        res.writeHead(200, { "content-type": "application/json" }).end(`${JSON.stringify({ status, unplannedChannels })}\n`);
      } else {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, resolve);
    });
    return server;
  }
}
