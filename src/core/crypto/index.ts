import { randomUUID } from "node:crypto";
import { link, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { generateKeySpec, parseKeyRing } from "./key-ring";

export { EnvelopeError, generateKeySpec, parseKeyRing } from "./key-ring";
export type { EnvelopeBinding, KeyRing } from "./key-ring";

/**
 * The embedded default's key: reads `<dataDir>/encryption-keys`, or creates it (mode 0600) on first run and says so.
 * Creation goes through a temporary file and link(), so a concurrent process never reads a half-written key.
 */
export async function loadOrCreateLocalKeyFile(dataDir: string, log: (msg: string) => void): Promise<string> {
  const file = path.join(path.resolve(dataDir), "encryption-keys");
  const existing = await readKeyFile(file, log);
  if (existing !== undefined) return existing;

  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${randomUUID()}.tmp`;
  await writeFile(temporary, `${generateKeySpec()}\n`, { mode: 0o600, flag: "wx" });
  try {
    await link(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return (await readKeyFile(file, log))!; // another process created it first: use theirs
  } finally {
    await rm(temporary, { force: true });
  }
  log(
    `Created a local encryption key at ${file}. It protects the channel credentials in the embedded database: ` +
      "back it up together with the data folder, and set REFRESCA_ENCRYPTION_KEYS in production.",
  );
  return (await readKeyFile(file, log))!;
}

async function readKeyFile(file: string, log: (msg: string) => void): Promise<string | undefined> {
  let spec: string;
  try {
    spec = (await readFile(file, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    parseKeyRing(spec);
  } catch (error) {
    throw new Error(`The local key file ${file} is not valid: ${(error as Error).message}`);
  }
  if (process.platform !== "win32" && ((await stat(file)).mode & 0o077) !== 0) {
    log(`Warning: ${file} can be read by other users; run: chmod 600 ${file}`);
  }
  return spec;
}
