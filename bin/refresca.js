#!/usr/bin/env node
// Runs the command line compiled to dist/cli.js, on plain Node: a TypeScript loader would cost every process ~31 MB
// and its start-up time. The npm package ships dist/ built and runs it as it is. In a checkout (the sources are
// here), it is built first when missing or older than the sources; where it cannot be built (a read-only folder),
// the sources run through tsx, a development dependency.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const checkout = existsSync(fileURLToPath(new URL("../src/cli.ts", import.meta.url)));

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

if (!checkout) {
  if (!existsSync(fileURLToPath(new URL("../dist/cli.js", import.meta.url)))) {
    process.stderr.write("This copy of refresca has no dist/cli.js: reinstall the package (npm install refresca).\n");
    process.exit(1);
  }
  await import("../dist/cli.js");
} else {
  const { cliBuildIsFresh } = await import("../scripts/build-cli.mjs");
  if (cliBuildIsFresh() || buildCli()) {
    await import("../dist/cli.js");
  } else {
    const { register } = await import("tsx/esm/api");
    register();
    await import("../src/cli.ts");
  }
}
