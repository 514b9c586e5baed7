import { createHash, hkdfSync } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";

/** The session cookie: httpOnly, SameSite=Lax, Secure over https, signed (HS256) with a key from the session secret. */
export const SESSION_COOKIE = "refresca_session";
/** A session lasts 12 hours; then the key is asked for again. */
export const SESSION_TTL_SECONDS = 12 * 60 * 60;

const ALGORITHM = "HS256";
const ISSUER = "refresca";
const AUDIENCE = "refresca-dashboard";

/**
 * What a session cookie says (signed, not encrypted: nothing in it is secret). `keyId` names the key that opened the
 * session; a session whose key was since replaced is refused.
 */
export type SessionClaims = { role: "admin"; keyId: string } | { role: "tenant"; tenantId: string; keyId: string };

/** The signing key, derived so that the configured secret is never used directly for anything else. */
export function sessionKey(secret: string): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", secret, "refresca", "dashboard session cookie v1", 32));
}

/** A non-secret id of the admin key: admin sessions end when the admin key changes. */
export function adminKeyId(adminKey: string): string {
  return createHash("sha256").update(`refresca admin key id\0${adminKey}`).digest("hex").slice(0, 16);
}

export async function sealSession(claims: SessionClaims, key: Uint8Array, ttlSeconds = SESSION_TTL_SECONDS): Promise<string> {
  return new SignJWT({ role: claims.role, kid: claims.keyId })
    .setProtectedHeader({ alg: ALGORITHM })
    .setSubject(claims.role === "tenant" ? claims.tenantId : "admin")
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(key);
}

/** The claims of a valid, unexpired cookie signed with `key`; null for anything else. */
export async function openSession(token: string, key: Uint8Array): Promise<SessionClaims | null> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: [ALGORITHM], issuer: ISSUER, audience: AUDIENCE });
    if (typeof payload.kid !== "string" || typeof payload.sub !== "string") return null;
    if (payload.role === "admin") return { role: "admin", keyId: payload.kid };
    if (payload.role === "tenant") return { role: "tenant", tenantId: payload.sub, keyId: payload.kid };
    return null;
  } catch {
    return null;
  }
}
