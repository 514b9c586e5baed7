import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { open, readdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { PROJECT_DIR } from "../web/serve";

/** What a build depends on: a newer file here means `.next` is stale. */
const SOURCES = ["src", "next.config.ts", "tsconfig.json", "package-lock.json"];
const BUILD_ID = path.join(PROJECT_DIR, ".next", "BUILD_ID");
const LOCK = path.join(PROJECT_DIR, ".next-build.lock");

async function newestSource(entry: string): Promise<number> {
  const info = await stat(entry).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs; // a deleted file changes its folder
  for (const child of await readdir(entry)) newest = Math.max(newest, await newestSource(path.join(entry, child)));
  return newest;
}

/** Whether the web app's sources are here, as in a checkout: the npm package does not ship them. */
export function webAppIsHere(): boolean {
  return existsSync(path.join(PROJECT_DIR, "next.config.ts")) && existsSync(path.join(PROJECT_DIR, "src", "app"));
}

/** Whether `.next` is missing or older than a source file. */
export async function webBuildIsStale(): Promise<boolean> {
  const built = await stat(BUILD_ID).catch(() => undefined);
  if (!built) return true;
  const sources = await Promise.all(SOURCES.map((entry) => newestSource(path.join(PROJECT_DIR, entry))));
  return Math.max(...sources) > built.mtimeMs;
}

/**
 * Builds the web app (`next build`) when `.next` is missing or older than the sources. Processes that need the build
 * at once (a demo and a test run) take turns on a lock file; the second finds the build fresh and skips it.
 */
export async function ensureWebBuild(log: (message: string) => void = () => {}): Promise<void> {
  if (!(await webBuildIsStale())) return;
  const release = await acquireBuildLock(log);
  try {
    if (!(await webBuildIsStale())) return;
    log("Building the web app (next build): about a minute on a small machine, once per change of the sources…");
    await runNextBuild();
    log("Web app built.");
  } finally {
    await release();
  }
}

async function runNextBuild(): Promise<void> {
  const nextBin = createRequire(import.meta.url).resolve("next/dist/bin/next");
  const child = spawn(process.execPath, [nextBin, "build"], {
    cwd: PROJECT_DIR,
    env: { ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    output.splice(0, Math.max(0, output.length - 200));
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) throw new Error(`next build failed (exit code ${code}):\n${output.join("").trim().split("\n").slice(-40).join("\n")}`);
}

async function acquireBuildLock(log: (message: string) => void): Promise<() => Promise<void>> {
  let told = false;
  for (const deadline = Date.now() + 15 * 60_000; Date.now() < deadline; ) {
    try {
      const handle = await open(LOCK, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(LOCK, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = Number((await readFile(LOCK, "utf8").catch(() => "")).trim());
    if (!isAlive(holder)) {
      await rm(LOCK, { force: true }); // left by a build that died
      continue;
    }
    if (!told) log(`Waiting for another process (pid ${holder}) to finish building the web app…`);
    told = true;
    await sleep(500);
  }
  throw new Error(`Timed out waiting for the web build lock ${LOCK}`);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
