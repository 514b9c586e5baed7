#!/usr/bin/env node
// Runs the command line compiled to dist/cli.js, on plain Node: a TypeScript loader would cost every process ~31 MB
// and its start-up time. Builds it first when it is missing or older than the sources; where it cannot be built (a
// read-only install), runs the sources through tsx instead.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { cliBuildIsFresh } from "../scripts/build-cli.mjs";

function buildCli() {
  process.stderr.write("Building the CLI (dist/)…\n");
  // In a child process, so that esbuild's service and heap do not stay in this one, which may be a long-lived worker.
  const script = fileURLToPath(new URL("../scripts/build-cli.mjs", import.meta.url));
  const result = spawnSync(process.execPath, [script, "--quiet"], {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  if (result.status === 0) return true;
  const reason = (result.error?.message ?? result.stderr).trim();
  process.stderr.write(`${reason}\nCould not build the CLI; running the sources through tsx.\n`);
  return false;
}

if (cliBuildIsFresh() || buildCli()) {
  await import("../dist/cli.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli.ts");
}
