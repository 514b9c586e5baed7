import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { redisAnswers, safeUrl } from "../src/launcher/local-redis";
import { DEFAULT_TEST_DATABASE_URL, DEFAULT_TEST_REDIS_URL } from "./env";

const SERVICES = fileURLToPath(new URL("./support/services.ts", import.meta.url));
const START_TIMEOUT_MS = 180_000; // a first initdb on a slow machine
const STOP_TIMEOUT_MS = 30_000;

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || "127.0.0.1", port: Number(port || defaultPort) });
    socket.setTimeout(2000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
  });
}

/**
 * The servers the tests use: the PostgreSQL at TEST_DATABASE_URL and the Redis at TEST_REDIS_URL when they answer;
 * else, started here once for the whole run, the embedded PostgreSQL and a private redis-server, as the demo does
 * (test/support/services.ts, in a child process, with their files in a temporary folder removed at the end).
 * Their URLs go to the test files (and to every process they spawn) as TEST_DATABASE_URL / TEST_REDIS_URL in the
 * environment: vitest starts its workers after this, with this process's environment (test/env.ts reads them).
 */
export default async function setup() {
  const pgUrl = process.env.TEST_DATABASE_URL || DEFAULT_TEST_DATABASE_URL;
  const redisUrl = process.env.TEST_REDIS_URL || DEFAULT_TEST_REDIS_URL;
  const [pgAnswers, redisAnswered] = await Promise.all([reachable(pgUrl, 5432), redisAnswers(redisUrl)]);
  const where = (url: string) => new URL(url).host;
  let used = {
    databaseUrl: pgUrl,
    redisUrl,
    postgres: `PostgreSQL at ${where(pgUrl)}`,
    redis: `Redis at ${where(redisUrl)}`,
  };
  let stop = async () => {};

  if (!pgAnswers || !redisAnswered) {
    const dataDir = await mkdtemp(path.join(tmpdir(), "refresca-test-services-"));
    const args = [dataDir, ...(pgAnswers ? [] : ["--postgres"]), ...(redisAnswered ? [] : ["--redis", redisUrl])];
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, ["--import", "tsx", SERVICES, ...args], { stdio: ["pipe", "pipe", "pipe"] });
      const started = await servicesStarted(child);
      const running = child;
      if (started.databaseUrl) {
        used = { ...used, databaseUrl: started.databaseUrl, postgres: `the embedded PostgreSQL on ${where(started.databaseUrl)} (nothing answered at ${where(pgUrl)})` };
      }
      if (started.redisUrl) {
        used = { ...used, redisUrl: started.redisUrl, redis: `a private redis-server on ${where(started.redisUrl)} (nothing answered at ${safeUrl(redisUrl)})` };
      }
      stop = async () => {
        await stopChild(running);
        await rm(dataDir, { recursive: true, force: true });
      };
    } catch (error) {
      if (child) await stopChild(child);
      await rm(dataDir, { recursive: true, force: true });
      throw error;
    }
  }

  process.env.TEST_DATABASE_URL = used.databaseUrl;
  process.env.TEST_REDIS_URL = used.redisUrl;
  console.log(`Tests use ${used.postgres} and ${used.redis}.`);
  return stop;
}

/** The URLs the child prints once its servers answer; its stderr (progress, or why it failed) goes in an error. */
function servicesStarted(child: ChildProcess): Promise<{ databaseUrl?: string; redisUrl?: string }> {
  const errors: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => errors.push(line));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The test services did not start within ${START_TIMEOUT_MS / 1000} s.`)), START_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
    child.once("error", (error) => (clearTimeout(timer), reject(error)));
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`The test services could not start (${signal ?? `exit code ${code}`}):\n${errors.join("\n")}`));
    });
  });
}

/** Closes its stdin (it stops its servers and exits); SIGKILL if it has not exited in time. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.stdin!.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
