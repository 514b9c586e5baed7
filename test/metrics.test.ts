import { spawnSync } from "node:child_process";
import type http from "node:http";
import net from "node:net";
import { networkInterfaces } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./support/harness";
import { freePort, startWorkerProcess, workerEnv, type WorkerProcess } from "./support/processes";
import { waitFor } from "./support/wait";

// The metrics a worker serves on /metrics (METRICS_PORT): Prometheus' naming rules, the standard names of the
// process's own metrics, and the address they are served on.

/**
 * prom-client's default metrics that promtool's linter flags (gauges named `_total`). They keep their standard names
 * all the same: the usual Node.js dashboards (e.g. Grafana's "NodeJS Application Dashboard") query them by these.
 */
const STANDARD_NAMES_PROMTOOL_FLAGS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

let h: Harness;
let server: http.Server;
let body: string;

beforeAll(async () => {
  h = await startHarness();
  const tenantId = h.tenant();
  const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 600 });
  const refreshed = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
  expect(refreshed.success).toBe(true);
  server = await h.refresca.metrics.serve(0);
  const response = await fetch(`http://127.0.0.1:${port(server)}/metrics`);
  expect(response.status).toBe(200);
  body = await response.text();
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await h?.close();
});

const port = (s: http.Server) => (s.address() as net.AddressInfo).port;

/** The metric families a scrape declares (`# TYPE <name> <type>`). */
function families(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** `promtool check metrics` on `text`: its exit status and its complaints, one per line. */
function promtool(text: string): { status: number | null; problems: string[] } {
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  if (run.error) throw run.error;
  return { status: run.status, problems: `${run.stdout}\n${run.stderr}`.split("\n").map((l) => l.trim()).filter(Boolean) };
}

/** Only the families whose names start with `prefix` (their HELP, TYPE and sample lines). */
function onlyFamilies(text: string, prefix: string): string {
  return text
    .split("\n")
    .filter((line) => {
      const name = line.startsWith("# ") ? line.split(" ")[2] : line.split(/[{ ]/)[0];
      return name !== undefined && name.startsWith(prefix);
    })
    .map((line) => `${line}\n`)
    .join("");
}

const promtoolInstalled = !spawnSync("promtool", ["--version"], { stdio: "ignore" }).error;

describe("metric names", () => {
  it("keeps the process's default metrics under their standard names, and Refresca's own under refresca_", () => {
    const declared = families(body);
    for (const [name, type] of [
      ["process_cpu_seconds_total", "counter"],
      ["process_resident_memory_bytes", "gauge"],
      ["process_start_time_seconds", "gauge"],
      ["nodejs_heap_size_used_bytes", "gauge"],
      ["nodejs_eventloop_lag_seconds", "gauge"],
      ["nodejs_gc_duration_seconds", "histogram"],
      ["nodejs_version_info", "gauge"],
      ["refresca_refreshes_total", "counter"],
      ["refresca_refresh_duration_seconds", "histogram"],
      ["refresca_jobs_finished_total", "counter"],
      ["refresca_queue_jobs", "gauge"],
    ]) {
      expect(declared.get(name!), name).toBe(type);
    }
    expect(body).toMatch(/^process_cpu_seconds_total \d/m);
    expect(body).toMatch(/^refresca_refreshes_total\{platform="tiktok",outcome="success"\} 1$/m);
    expect(body).not.toContain("refresca_process_");
    // Nothing else: every family is the process's, Node's or Refresca's.
    for (const name of declared.keys()) expect(name).toMatch(/^(process_|nodejs_|refresca_)/);
  });

  it.skipIf(!promtoolInstalled)("passes `promtool check metrics` (Refresca's own entirely; of the defaults, only prom-client's standard `_total` gauges are flagged)", () => {
    const own = promtool(onlyFamilies(body, "refresca_"));
    expect(own.problems).toEqual([]);
    expect(own.status).toBe(0);
    const whole = promtool(body);
    expect(whole.problems.join("\n")).not.toContain("error while linting");
    const flagged = whole.problems.map((problem) => problem.split(" ")[0]);
    expect(flagged.filter((name) => !STANDARD_NAMES_PROMTOOL_FLAGS.includes(name!))).toEqual([]);
  });

  if (!promtoolInstalled) {
    it("skips promtool: it is not installed (apt-get install prometheus gives it)", () => {
      console.warn("promtool is not installed: the Prometheus lint of /metrics was skipped (apt-get install prometheus).");
    });
  }

  it("promtool's check can fail: it flags a counter without _total and a gauge named _total", () => {
    if (!promtoolInstalled) return;
    const bad = "# HELP refresca_bad x\n# TYPE refresca_bad counter\nrefresca_bad 1\n# HELP refresca_n_total x\n# TYPE refresca_n_total gauge\nrefresca_n_total 1\n";
    const result = promtool(bad);
    expect(result.status).not.toBe(0);
    expect(result.problems.length).toBeGreaterThanOrEqual(2);
  });
});

/** An address of this machine other than 127.0.0.1: a network interface's, else another loopback one. */
function otherLocalAddress(): string {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((address) => address && address.family === "IPv4" && !address.internal);
  return external?.address ?? "127.0.0.2";
}

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, portNumber: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: portNumber });
    socket.setTimeout(2000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
  });
}

describe("where metrics are served", () => {
  const other = otherLocalAddress();

  it(`listens on 127.0.0.1 by default, so another address of this machine (${other}) does not reach it`, async () => {
    expect((server.address() as net.AddressInfo).address).toBe("127.0.0.1");
    expect(await accepts("127.0.0.1", port(server))).toBe(true);
    expect(await accepts(other, port(server))).toBe(false);
    // The check can tell: on every address, the same server is reachable there.
    const everywhere = await h.refresca.metrics.serve(0, "0.0.0.0");
    try {
      expect(await accepts(other, port(everywhere))).toBe(true);
    } finally {
      await new Promise((resolve) => everywhere.close(resolve));
    }
  });

  it("a worker process serves them on 127.0.0.1 with METRICS_PORT alone, and where METRICS_HOST says", async () => {
    const workers: WorkerProcess[] = [];
    try {
      const loopbackPort = await freePort();
      const loopback = await startWorkerProcess(workerEnv(h, { METRICS_PORT: String(loopbackPort) }));
      workers.push(loopback);
      expect(loopback.output.find((line) => line.includes("metrics served on /metrics"))).toContain('"host":"127.0.0.1"');
      await waitFor("the metrics on 127.0.0.1", () => accepts("127.0.0.1", loopbackPort));
      expect(await accepts(other, loopbackPort)).toBe(false);

      const openPort = await freePort();
      workers.push(await startWorkerProcess(workerEnv(h, { METRICS_PORT: String(openPort), METRICS_HOST: "0.0.0.0" })));
      const response = await fetch(`http://${other}:${openPort}/metrics`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain("# TYPE process_cpu_seconds_total counter");
    } finally {
      await Promise.all(workers.map((worker) => worker.stop("SIGTERM")));
    }
  });
});
