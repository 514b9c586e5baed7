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

  constructor(queue: RefreshQueue) {
    collectDefaultMetrics({ register: this.registry, prefix: "refresca_process_" });
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
  }

  observeAttempt = (attempt: { platform: string; outcome: string; durationMs: number }) => {
    this.refreshes.inc({ platform: attempt.platform, outcome: attempt.outcome });
    this.duration.observe({ platform: attempt.platform }, attempt.durationMs / 1000);
  };

  /** Serves GET /metrics (and GET /healthz) on the port; resolves once listening. */
  async serve(port: number, host = "0.0.0.0"): Promise<http.Server> {
    const server = http.createServer(async (req, res) => {
      if (req.url === "/metrics") {
        try {
          const body = await this.registry.metrics();
          res.writeHead(200, { "content-type": this.registry.contentType }).end(body);
        } catch {
          res.writeHead(503, { "content-type": "text/plain" }).end("metrics unavailable: is Redis reachable?\n");
        }
      } else if (req.url === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
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
