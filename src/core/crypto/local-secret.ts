import { randomUUID } from "node:crypto";
import { link, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

export interface LocalSecretFile {
  /** The file, e.g. `<dataDir>/session-secret`. */
  file: string;
  /** What the file is, for messages: "local key file". */
  label: string;
  /** Makes a new secret (one line of text). */
  create(): string;
  /** Throws with a sentence when the text read back is not a valid secret. */
  validate(text: string): void;
  /** What to tell a person once the file was created (never the secret itself). */
  createdMessage: string;
}

/**
 * The embedded default's local secrets (encryption key, session secret): reads the file, or creates it (mode 0600)
 * on first run and says so. Creation goes through a temporary file and link(), so a concurrent process never reads a
 * half-written secret and two first runs agree on one.
 */
export async function loadOrCreateLocalSecret(spec: LocalSecretFile, log: (msg: string) => void): Promise<string> {
  const existing = await readSecretFile(spec, log);
  if (existing !== undefined) return existing;

  await mkdir(path.dirname(spec.file), { recursive: true, mode: 0o700 });
  const temporary = `${spec.file}.${randomUUID()}.tmp`;
  await writeFile(temporary, `${spec.create()}\n`, { mode: 0o600, flag: "wx" });
  try {
    await link(temporary, spec.file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return (await readSecretFile(spec, log))!; // another process created it first: use theirs
  } finally {
    await rm(temporary, { force: true });
  }
  log(spec.createdMessage);
  return (await readSecretFile(spec, log))!;
}

async function readSecretFile(spec: LocalSecretFile, log: (msg: string) => void): Promise<string | undefined> {
  let text: string;
  try {
    text = (await readFile(spec.file, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    spec.validate(text);
  } catch (error) {
    throw new Error(`The ${spec.label} ${spec.file} is not valid: ${(error as Error).message}`);
  }
  if (process.platform !== "win32" && ((await stat(spec.file)).mode & 0o077) !== 0) {
    log(`Warning: ${spec.file} can be read by other users; run: chmod 600 ${spec.file}`);
  }
  return text;
}
