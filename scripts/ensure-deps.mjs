// Installs the locked dependencies when they are missing or older than package-lock.json, so that the README's
// two commands work on a fresh clone, then builds the command line (dist/cli.js) when it is missing or stale, once
// here rather than in the first of the processes the demo or the tests start. Plain Node on purpose: it runs before
// any dependency exists.
import { execSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { buildCli, cliBuildIsFresh } from "./build-cli.mjs";

const installed = "node_modules/.package-lock.json";
const stale = !existsSync(installed) || statSync(installed).mtimeMs < statSync("package-lock.json").mtimeMs;
if (stale) {
  console.error("Installing dependencies (npm ci)…");
  execSync("npm ci --no-audit --no-fund", { stdio: "inherit" });
}
if (!cliBuildIsFresh()) {
  console.error("Building the CLI (dist/)…");
  await buildCli();
}
