import path from "node:path";
import { generateKeySpec, parseKeyRing } from "./key-ring";
import { loadOrCreateLocalSecret } from "./local-secret";

export { EnvelopeError, generateKeySpec, parseKeyRing } from "./key-ring";
export type { EnvelopeBinding, KeyRing } from "./key-ring";
export { loadOrCreateLocalSecret, type LocalSecretFile } from "./local-secret";

/** The embedded default's key: reads `<dataDir>/encryption-keys`, or creates it (mode 0600) on first run and says so. */
export async function loadOrCreateLocalKeyFile(dataDir: string, log: (msg: string) => void): Promise<string> {
  const file = path.join(path.resolve(dataDir), "encryption-keys");
  return loadOrCreateLocalSecret(
    {
      file,
      label: "local key file",
      create: () => generateKeySpec(),
      validate: (spec) => void parseKeyRing(spec),
      createdMessage:
        `Created a local encryption key at ${file}. It protects the channel credentials in the embedded database: ` +
        "back it up together with the data folder, and set REFRESCA_ENCRYPTION_KEYS in production.",
    },
    log,
  );
}
