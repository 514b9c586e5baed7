import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Every tenant API key starts with this, so a leaked one is recognisable (and secret scanners can match it). */
export const API_KEY_PREFIX = "rk_";
const API_KEY_SHAPE = /^rk_[A-Za-z0-9_-]{43}$/;

/**
 * A new tenant API key: `rk_` + base64url of 32 random bytes, its SHA-256 (the only thing stored) and a short
 * non-secret id that sessions carry.
 *
 * Why a plain SHA-256 and not bcrypt/scrypt/argon2: slow hashes exist to make guessing low-entropy passwords
 * expensive. This key is 256 bits from the CSPRNG, so no amount of guessing finds it or a preimage of its hash, and
 * a deterministic fast hash lets sign-in find the tenant with one indexed lookup instead of trying every tenant.
 */
export function generateApiKey(): { key: string; hash: string; id: string } {
  const key = `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { key, hash: hashApiKey(key), id: randomBytes(6).toString("hex") };
}

/** Whether the text has the shape of a tenant API key (checked before any lookup). */
export function looksLikeApiKey(text: string): boolean {
  return API_KEY_SHAPE.test(text);
}

/** Hex SHA-256 of a key: what `tenants.api_key_hash` (and, for REST API keys, `api_keys.key_hash`) holds. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Compares two secrets in constant time: both are hashed first, so the digests always have the same length. */
export function secretsEqual(a: string, b: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}
