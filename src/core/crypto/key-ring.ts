import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { Credentials } from "../types";

const KID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const VAR = "REFRESCA_ENCRYPTION_KEYS";

/** The channel an envelope belongs to; a ciphertext moved to another one does not decrypt. */
export interface EnvelopeBinding {
  tenantId: string;
  channelId: string;
}

/** Encrypts with its first key, decrypts with any of them. Key material is held in a closure, never on the object. */
export interface KeyRing {
  readonly activeKeyId: string;
  readonly keyIds: readonly string[];
  encrypt(credentials: Credentials, binding: EnvelopeBinding): string;
  decrypt(envelope: string, binding: EnvelopeBinding): Credentials;
  keyIdOf(envelope: string): string;
}

/** Why an envelope could not be opened. Messages never contain key material or plaintext. */
export class EnvelopeError extends Error {
  constructor(
    readonly reason: "malformed" | "unknown_key" | "unauthentic",
    message: string,
  ) {
    super(message);
    this.name = "EnvelopeError";
  }
}

/** Parses `kid:base64-of-32-bytes[,kid:base64…]`; errors name the entry and the problem, never the key. */
export function parseKeyRing(spec: string): KeyRing {
  const entries = spec.split(",").map((entry) => entry.trim());
  if (entries.length === 1 && entries[0] === "") {
    throw new Error(`${VAR} is empty: expected comma-separated kid:base64-of-32-bytes entries`);
  }
  const keys = new Map<string, Buffer>();
  entries.forEach((entry, index) => {
    const where = `${VAR} entry ${index + 1}`;
    if (entry === "") throw new Error(`${where} is empty (a stray comma?)`);
    const colon = entry.indexOf(":");
    if (colon < 0) throw new Error(`${where} has no key id: expected kid:base64-of-32-bytes`);
    const kid = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    // An invalid "kid" may be a pasted key, so it is described, not echoed.
    if (!KID.test(kid)) throw new Error(`${where}: the key id must be 1–32 characters of A-Z a-z 0-9 _ -`);
    if (keys.has(kid)) throw new Error(`${where}: key id "${kid}" is used twice`);
    if (encoded === "") throw new Error(`${where}: key "${kid}" is empty`);
    if (!BASE64.test(encoded)) throw new Error(`${where}: key "${kid}" is not valid base64`);
    const key = Buffer.from(encoded, encoded.includes("-") || encoded.includes("_") ? "base64url" : "base64");
    if (key.length !== KEY_BYTES) throw new Error(`${where}: key "${kid}" is ${key.length} bytes, expected ${KEY_BYTES}`);
    keys.set(kid, key);
  });
  return createKeyRing(keys);
}

/** A fresh `kid:base64` entry for REFRESCA_ENCRYPTION_KEYS. */
export function generateKeySpec(kid: string = `k${new Date().toISOString().slice(0, 10).replaceAll("-", "")}`): string {
  if (!KID.test(kid)) throw new Error("The key id must be 1–32 characters of A-Z a-z 0-9 _ -");
  return `${kid}:${randomBytes(KEY_BYTES).toString("base64")}`;
}

function createKeyRing(keys: Map<string, Buffer>): KeyRing {
  const keyIds = Object.freeze([...keys.keys()]);
  const activeKeyId = keyIds[0]!;

  function encrypt(credentials: Credentials, binding: EnvelopeBinding): string {
    const key = keys.get(activeKeyId)!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(activeKeyId, binding));
    const plaintext = JSON.stringify({ accessToken: credentials.accessToken, refreshToken: credentials.refreshToken });
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const parts = [iv, ciphertext, cipher.getAuthTag()].map((part) => part.toString("base64url"));
    return [VERSION, activeKeyId, ...parts].join(".");
  }

  function decrypt(envelope: string, binding: EnvelopeBinding): Credentials {
    const { kid, iv, ciphertext, tag } = parseEnvelope(envelope);
    const key = keys.get(kid);
    if (!key) throw new EnvelopeError("unknown_key", `The credentials were encrypted with key "${kid}", which is not in ${VAR}`);
    let plaintext: string;
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData(kid, binding));
      decipher.setAuthTag(tag);
      plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("utf8");
    } catch {
      // GCM cannot tell a wrong binding from tampering, and neither should the message.
      throw new EnvelopeError(
        "unauthentic",
        "The credentials failed authentication: they were altered, or belong to another tenant or channel",
      );
    }
    return toCredentials(plaintext);
  }

  const ring: KeyRing = { activeKeyId, keyIds, encrypt, decrypt, keyIdOf: (envelope) => parseEnvelope(envelope).kid };
  return Object.freeze(ring);
}

/** Binds the ciphertext to its key id, tenant and channel; JSON keeps ids containing separators unambiguous. */
function associatedData(kid: string, { tenantId, channelId }: EnvelopeBinding): Buffer {
  return Buffer.from(JSON.stringify(["refresca", VERSION, kid, tenantId, channelId]), "utf8");
}

function parseEnvelope(envelope: string) {
  const parts = typeof envelope === "string" ? envelope.split(".") : [];
  const [version, kid, iv, ciphertext, tag] = parts;
  if (parts.length !== 5 || version !== VERSION) {
    throw new EnvelopeError("malformed", `The credentials envelope is not a ${VERSION} envelope`);
  }
  if (!KID.test(kid!) || ![iv, ciphertext, tag].every((part) => B64URL.test(part!))) {
    throw new EnvelopeError("malformed", "The credentials envelope is malformed");
  }
  const decoded = {
    kid: kid!,
    iv: Buffer.from(iv!, "base64url"),
    ciphertext: Buffer.from(ciphertext!, "base64url"),
    tag: Buffer.from(tag!, "base64url"),
  };
  if (decoded.iv.length !== IV_BYTES || decoded.tag.length !== TAG_BYTES) {
    throw new EnvelopeError("malformed", "The credentials envelope is malformed");
  }
  return decoded;
}

function toCredentials(plaintext: string): Credentials {
  const value: unknown = JSON.parse(plaintext);
  const { accessToken, refreshToken } = (value ?? {}) as Record<string, unknown>;
  if (typeof accessToken !== "string" || (refreshToken !== undefined && typeof refreshToken !== "string")) {
    throw new EnvelopeError("malformed", "The decrypted credentials do not have the expected shape");
  }
  return refreshToken === undefined ? { accessToken } : { accessToken, refreshToken };
}
