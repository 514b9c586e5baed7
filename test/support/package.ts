import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { waitFor } from "./wait";

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** What `npm pack` reads: a newer file here means the cached tarball is stale. */
const INPUTS = ["src", "bin", "scripts", "package.json", "tsconfig.json", "tsconfig.build.json", "README.md"];
const CACHE = path.join(tmpdir(), `refresca-pack-${createHash("sha256").update(ROOT).digest("hex").slice(0, 12)}`);
const LOCK = `${CACHE}.lock`;

/** The environment for npm in a temporary project: without the npm_* variables of an `npm test` around us. */
export function npmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== "INIT_CWD"));
  return { ...env, NEXT_TELEMETRY_DISABLED: "1", ...extra };
}

/** Runs npm (or npx) in `cwd` and answers its output; a failure carries both streams. */
export async function npm(args: string[], cwd: string, timeoutMs = 300_000, tool: "npm" | "npx" = "npm") {
  try {
    return await run(tool, args, { cwd, env: npmEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const failed = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`${tool} ${args.join(" ")} failed in ${cwd}: ${failed.message}\n${failed.stdout ?? ""}\n${failed.stderr ?? ""}`);
  }
}

/** Installs the packed tarball (and `extra` packages) into an empty project; npm's cache serves what it already has. */
export async function installInto(dir: string, tarball: string, extra: string[] = []): Promise<void> {
  await npm(["install", tarball, ...extra, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], dir, 600_000);
}

function newest(entry: string): number {
  const info = statSync(entry, { throwIfNoEntry: false });
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs;
  for (const child of readdirSync(entry)) latest = Math.max(latest, newest(path.join(entry, child)));
  return latest;
}

async function acquireLock(): Promise<() => Promise<void>> {
  await waitFor(
    "the lock on the packed tarball",
    async () => {
      try {
        await mkdir(LOCK);
        await writeFile(path.join(LOCK, "pid"), String(process.pid));
        return true;
      } catch {
        // A holder that died (a killed test run) leaves its lock behind: break it.
        const holder = Number(await readFile(path.join(LOCK, "pid"), "utf8").catch(() => "0"));
        if (holder > 0 && !alive(holder)) await rm(LOCK, { recursive: true, force: true });
        return false;
      }
    },
    600_000,
  );
  return () => rm(LOCK, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let packed: Promise<string> | undefined;

/**
 * The checkout as `npm pack` makes it (prepack builds dist/cli.js, dist/lib and dist/types), packed once for the
 * test files that need it: a lock serialises packing across vitest workers, and a tarball packed from sources no
 * newer than the ones here now is reused.
 */
export function packedTarball(): Promise<string> {
  packed ??= (async () => {
    const release = await acquireLock();
    try {
      const stamp = path.join(CACHE, "stamp");
      const sources = String(Math.max(...INPUTS.map((entry) => newest(path.join(ROOT, entry)))));
      const cached = existsSync(CACHE) ? readdirSync(CACHE).find((name) => name.endsWith(".tgz")) : undefined;
      if (cached && (await readFile(stamp, "utf8").catch(() => "")) === sources) return path.join(CACHE, cached);
      await rm(CACHE, { recursive: true, force: true });
      await mkdir(CACHE, { recursive: true });
      const { stdout } = await npm(["pack", "--pack-destination", CACHE, "--loglevel=error"], ROOT);
      const name = stdout.trim().split("\n").at(-1)!;
      await writeFile(stamp, sources);
      return path.join(CACHE, name);
    } finally {
      await release();
    }
  })();
  return packed;
}
