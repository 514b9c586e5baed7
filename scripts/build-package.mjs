// Builds what the npm package ships (`npm run build:package`; `npm pack` and `npm publish` run it as `prepack`):
// - dist/cli.js, the command line (scripts/build-cli.mjs, as a checkout builds it);
// - dist/lib/, the three entry points `refresca`, `refresca/client` and `refresca/next` as ES modules for plain
//   Node, bundled by esbuild with shared code in chunks (so `refresca` and `refresca/next` share one copy of the
//   error classes), dependencies left as imports of the installed packages;
// - dist/types/, their declarations, from tsc.
// Why esbuild for the JavaScript: the sources import each other without file extensions (tsconfig's
// moduleResolution "Bundler", as Next and vitest read them); tsc would emit those specifiers unchanged and Node's ES
// modules cannot resolve them. tsc still writes the declarations, whose relative specifiers get their extensions
// here, so that projects using moduleResolution "NodeNext" resolve them as well as those using "Bundler".
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildCli } from "./build-cli.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LIB = path.join(ROOT, "dist", "lib");
const TYPES = path.join(ROOT, "dist", "types");
const ENTRIES = { index: "src/index.ts", client: "src/client/index.ts", next: "src/next/index.ts" };

function filesUnder(dir, suffix) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(full, suffix);
    return entry.name.endsWith(suffix) ? [full] : [];
  });
}

async function buildLibrary() {
  rmSync(LIB, { recursive: true, force: true });
  const { build } = await import("esbuild");
  await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    outdir: LIB,
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: true,
    keepNames: true,
    logLevel: "warning",
  });
}

/** `./x` → `./x.js` or `./x/index.js`, as the emitted declaration files beside it say. */
function withExtension(file, specifier) {
  if (!specifier.startsWith(".") || /\.(m|c)?js$/.test(specifier)) return specifier;
  const target = path.resolve(path.dirname(file), specifier);
  const exists = (candidate) => statSync(candidate, { throwIfNoEntry: false })?.isFile() ?? false;
  const base = specifier === "." || specifier === ".." ? `${specifier}/` : specifier;
  if (exists(`${target}.d.ts`)) return `${specifier}.js`;
  if (exists(path.join(target, "index.d.ts"))) return `${base.endsWith("/") ? base : `${base}/`}index.js`;
  throw new Error(`${path.relative(ROOT, file)}: cannot resolve "${specifier}"`);
}

function buildTypes() {
  rmSync(TYPES, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit code ${result.status})`);
  // Hand-written declarations (the client's OpenAPI types) are not emitted by tsc: copy them beside the others.
  for (const source of filesUnder(path.join(ROOT, "src"), ".d.ts")) {
    const target = path.join(TYPES, path.relative(path.join(ROOT, "src"), source));
    if (statSync(path.dirname(target), { throwIfNoEntry: false })) copyFileSync(source, target);
  }
  for (const file of filesUnder(TYPES, ".d.ts")) {
    const text = readFileSync(file, "utf8");
    const fixed = text
      .replace(/(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(["'])([^"']+)\2/g, (_, lead, quote, specifier) => `${lead}${quote}${withExtension(file, specifier)}${quote}`);
    if (fixed !== text) writeFileSync(file, fixed);
  }
}

const started = Date.now();
try {
  mkdirSync(path.join(ROOT, "dist"), { recursive: true });
  await buildCli();
  await buildLibrary();
  buildTypes();
  console.log(`Built dist/cli.js, dist/lib/ and dist/types/ in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
