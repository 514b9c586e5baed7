import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { launchBrowser } from "./support/browser";
import { freePort } from "./support/processes";
import { waitFor } from "./support/wait";
import { TEST_REDIS_URL, uniqueName } from "./env";
import { deleteKeys } from "./support/harness";

// The README's quick start as a new user runs it, as root: `git clone` into a folder only its owner can enter
// (mktemp -d: mode 0700), `npm ci`, `npm run demo`; the dashboard answers, its key signs in, its curl line reads a
// token; Ctrl-C leaves nothing running. (`npm test`, the other quick-start command, is what CI itself runs in a
// fresh clone.) Slow — npm ci and the first `next build` — so it is one test with one generous timeout.
//
// It clones this repository with `git clone <repo root>`, which copies HEAD: committed code only, as CI has it.
// Uncommitted changes in the working tree are not tested here.

const REPO = fileURLToPath(new URL("..", import.meta.url));
const TIMEOUT_MS = 15 * 60_000;
// Variables that would configure the demo or the install differently from a new user's shell.
const NOT_A_USERS = /^(REFRESCA_|META_|TIKTOK_|INSTAGRAM_|METRICS_|DATABASE_URL$|REDIS_URL$|PORT$|HOST$|LOG_LEVEL$|NODE_ENV$|NODE_OPTIONS$|VITEST|TEST$|TEST_|npm_)/;

const run = promisify(execFile);

/**
 * Every process of the clone: its path in the command line (what `pgrep -f <dir>` finds) or its working directory
 * inside it (`node bin/refresca.js demo` names no absolute path; PostgreSQL's backends rename themselves but run in
 * the data folder).
 */
function processesOf(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      let cwd = "";
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        // another user's process, or gone
      }
      if (cmdline.includes(dir) || cwd === dir || cwd.startsWith(`${dir}/`)) found.push(`${pid} ${cmdline.slice(0, 160)}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function stopEverything(dir: string, demo: ChildProcess | undefined) {
  if (demo?.pid && demo.exitCode === null && demo.signalCode === null) {
    try {
      process.kill(-demo.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  for (const line of processesOf(dir)) {
    try {
      process.kill(Number(line.split(" ")[0]), "SIGKILL");
    } catch {
      // gone
    }
  }
}

describe("the quick start, from a fresh clone in a 0700 folder", () => {
  it(
    "npm ci; npm run demo: the dashboard answers 200, its key signs in, its curl line reads a token; Ctrl-C leaves no process",
    async () => {
      const parent = await mkdtemp(path.join(tmpdir(), "refresca-quick-start-"));
      const keyPrefix = `${uniqueName("demo")}:`;
      expect((await stat(parent)).mode & 0o777).toBe(0o700); // as `mktemp -d`: other users (postgres) cannot enter
      const clone = path.join(parent, "refresca");
      const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !NOT_A_USERS.test(name)));
      let demo: ChildProcess | undefined;
      try {
        await run("git", ["clone", "--quiet", REPO, clone], { env });
        // The npm cache makes this quick; a cold one downloads.
        await run("npm", ["ci", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: clone, env, timeout: 8 * 60_000, maxBuffer: 16 * 1024 * 1024 });

        const port = await freePort();
        // The machine's (or the test run's private) Redis, as a user who has one would, under a prefix of its own so
        // that what other demos left there (a recurring sweep's schedule, queued jobs) cannot change this run; its own
        // process group, as a terminal gives a command, so that Ctrl-C can reach all of it.
        demo = spawn("npm", ["run", "demo"], {
          cwd: clone,
          env: { ...env, PORT: String(port), REDIS_URL: TEST_REDIS_URL, REFRESCA_KEY_PREFIX: keyPrefix },
          stdio: ["ignore", "pipe", "pipe"],
          detached: true,
        });
        const output: string[] = [];
        for (const stream of [demo.stdout!, demo.stderr!]) createInterface({ input: stream }).on("line", (line) => output.push(line));
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
          demo!.once("exit", (code, signal) => resolve({ code, signal })),
        );
        let ended = false;
        void exited.then(() => (ended = true));
        await waitFor(
          "the demo to print its URL, key and curl line",
          async () => {
            if (ended) throw new Error(`npm run demo exited before it was ready:\n${output.join("\n")}`);
            return output.some((line) => line.includes("Press Ctrl-C to stop everything."));
          },
          8 * 60_000,
        );
        const printed = output.join("\n");
        const url = /Dashboard at (http:\/\/\S+)/.exec(printed)?.[1];
        const key = /^\s+(rk_[A-Za-z0-9_-]+)\s*$/m.exec(printed)?.[1];
        const curl = /^\s+(curl -s -H "Authorization: Bearer rka_[A-Za-z0-9_-]+" http:\/\/\S+)\s*$/m.exec(printed)?.[1];
        expect(url, printed).toBe(`http://127.0.0.1:${port}`);
        expect(key, printed).toBeDefined();
        expect(curl, printed).toBeDefined();

        // The printed URL answers: unsigned, it leads to the sign-in page.
        const first = await fetch(url!);
        expect(first.status).toBe(200);
        expect(first.url).toBe(`${url}/signin`);

        // The printed key signs in, in a real browser, and the dashboard shows the demo tenant's channels.
        const browser = await launchBrowser();
        try {
          const page = await browser.newPage();
          await page.goto(`${url}/signin`);
          await page.fill("#key", key!);
          await page.click("button[type=submit]");
          await page.waitForURL(`${url}/`);
          const dashboard = await page.goto(url!);
          expect(dashboard?.status()).toBe(200);
          expect(page.url()).toBe(`${url}/`);
          // The overview of the tenant "demo", with the 16 channels it was seeded with (one of a provider configured by data).
          expect(await page.textContent("h1")).toBe("Demo");
          expect(await page.textContent('[data-stat="totalChannels"] .stat-value')).toBe("16");
          expect(await page.textContent('[data-platform-row="acme"] [data-count="channels"]')).toBe("1");
        } finally {
          await browser.close();
        }

        // The printed curl line reads the live token: run as printed (with the status code appended) where curl is
        // installed, else the same request through fetch.
        const { status, body } = await curlLine(curl!, env);
        expect(status, body).toBe(200);
        expect(JSON.parse(body)).toMatchObject({ success: true, channelId: "tiktok-live", channelType: "tiktok" });

        // The demo's own receiver verifies and prints the signed event of its revoked TikTok channel, which is due at
        // start: the first refresh is refused, the channel flagged, the event delivered.
        await waitFor(
          "the demo's receiver to print channel.needs_reauth for tiktok-revoked",
          async () => output.some((line) => /✓ webhook channel\.needs_reauth tiktok-revoked/.test(line)),
          90_000,
        );

        // Ctrl-C: SIGINT to the terminal's foreground process group.
        expect(processesOf(clone).length).toBeGreaterThan(0); // the check below can see them
        process.kill(-demo.pid!, "SIGINT");
        const end = await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 60_000, "still running"))]);
        expect(end, output.join("\n")).not.toBe("still running");
        expect(output.join("\n")).toContain("Stopped.");
        let left: string[] = [];
        await waitFor(
          "no process of the clone to be left",
          async () => (left = processesOf(clone)).length === 0,
          30_000,
        ).catch(() => {
          throw new Error(`Processes of ${clone} still running after Ctrl-C:\n${left.join("\n")}`);
        });
      } finally {
        stopEverything(clone, demo);
        await rm(parent, { recursive: true, force: true });
        await deleteKeys(keyPrefix);
      }
    },
    TIMEOUT_MS,
  );
});

/** Runs the demo's curl line; the same request through fetch on a machine without curl. */
async function curlLine(line: string, env: NodeJS.ProcessEnv): Promise<{ status: number; body: string }> {
  if (spawnSync("curl", ["--version"], { stdio: "ignore" }).error) {
    const [, apiKey, target] = /Bearer (\S+)" (\S+)$/.exec(line)!;
    const response = await fetch(target!, { headers: { authorization: `Bearer ${apiKey}` } });
    return { status: response.status, body: await response.text() };
  }
  const { stdout } = await run("sh", ["-c", `${line} -w '\\n%{http_code}'`], { env });
  const cut = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}
