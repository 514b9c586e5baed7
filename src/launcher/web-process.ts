import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { PROJECT_DIR } from "../web/serve";

export interface WebProcess {
  url: string;
  pid: number;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** What the process wrote, when started with `stdio: "capture"` (the last 2 MB). */
  output(): string;
}

export interface WebProcessOptions {
  /** The whole environment of the child (DATABASE_URL or REFRESCA_DATA_DIR, REDIS_URL, PORT, HOST, …). */
  env: NodeJS.ProcessEnv;
  /** The address to wait on, e.g. http://127.0.0.1:3000 */
  url: string;
  /** Where the child's output goes; "capture" keeps it for `output()`. @defaultValue "inherit" */
  stdio?: "inherit" | "capture" | "ignore";
  /** @defaultValue 120000 */
  readyTimeoutMs?: number;
}

/**
 * Runs `refresca web` as a child process and waits until it serves the sign-in page. The child has its own process
 * group, so a Ctrl-C reaches the launcher only and the launcher stops things in order; an IPC channel lets the child
 * notice when the launcher dies and exit too.
 */
export async function startWebProcess(options: WebProcessOptions): Promise<WebProcess> {
  const stdio = options.stdio === "capture" ? "pipe" : (options.stdio ?? "inherit");
  const child: ChildProcess = spawn(process.execPath, [path.join(PROJECT_DIR, "bin", "refresca.js"), "web"], {
    cwd: PROJECT_DIR,
    env: { NEXT_TELEMETRY_DISABLED: "1", ...options.env, NODE_ENV: "production" },
    stdio: ["ignore", stdio, stdio, "ipc"],
    detached: true,
  });
  let captured = "";
  const keep = (chunk: Buffer) => {
    captured = (captured + chunk.toString()).slice(-2_000_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async (graceMs = 10_000) => {
    if (gone) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitUntilServing(options.url, options.readyTimeoutMs ?? 120_000, () => gone);
  } catch (error) {
    await stop(2000);
    if (captured) (error as Error).message += `\n${captured.trim().split("\n").slice(-30).join("\n")}`;
    throw error;
  }
  return { url: options.url, pid: child.pid!, exited, stop, output: () => captured };
}

async function waitUntilServing(url: string, timeoutMs: number, exited: () => boolean): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (exited()) throw new Error("The web process exited before serving (see its messages above).");
    try {
      const response = await fetch(`${url}/signin`, { redirect: "manual", signal: AbortSignal.timeout(5000) });
      await response.arrayBuffer();
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`The web process did not serve ${url} within ${Math.round(timeoutMs / 1000)} s.`);
}
