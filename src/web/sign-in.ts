import { setTimeout as sleep } from "node:timers/promises";
import { cookies, headers } from "next/headers";
import { clientFromHeaders } from "./client";
import { webLogger, webRuntime } from "./runtime";
import { adminKeyId, sealSession, SESSION_COOKIE, SESSION_TTL_SECONDS } from "./session";
import { SignInThrottle } from "./sign-in-throttle";

/** Every failed attempt waits this long before its answer, so scripted guessing is slow even before a lockout. */
const FAILURE_DELAY_MS = 400;
const MAX_KEY_LENGTH = 512;

export type SignInResult = { ok: true; role: "admin" | "tenant" } | { ok: false; error: string };

/** Checks a submitted key and, when it is a tenant's or the admin's, sets the session cookie. */
export async function signInWithKey(submitted: string): Promise<SignInResult> {
  const key = submitted.trim();
  const client = clientFromHeaders(await headers());
  let runtime;
  try {
    runtime = await webRuntime();
  } catch (error) {
    webLogger.error({ err: (error as Error).message }, "sign-in: Refresca is not available");
    return { ok: false, error: "Sign-in is not available right now: the server cannot reach its database or Redis." };
  }
  const { refresca, logger } = runtime;
  const throttle = new SignInThrottle(refresca.internals.redis, refresca.internals.keyPrefix);
  try {
    const attempt = await throttle.attempt(client.ip, async () =>
      key && key.length <= MAX_KEY_LENGTH ? await refresca.tenants.authenticate(key, runtime.adminKey) : null,
    );
    if (attempt.outcome === "locked") {
      return { ok: false, error: `Too many failed sign-ins from your address. Try again in ${attempt.waitSeconds} seconds.` };
    }
    if (attempt.outcome === "failed") {
      const lockout = attempt.lockoutSeconds;
      await sleep(FAILURE_DELAY_MS);
      logger.warn({ lockoutSeconds: lockout }, "failed dashboard sign-in"); // never the submitted key
      return {
        ok: false,
        error: lockout > 0
          ? `This key is not valid. Too many failed sign-ins: try again in ${lockout} seconds.`
          : "This key is not valid.",
      };
    }
    const holder = attempt.holder;
    const token = await sealSession(
      holder.role === "admin"
        ? { role: "admin", keyId: adminKeyId(runtime.adminKey!) }
        : { role: "tenant", tenantId: holder.tenantId, keyId: holder.keyId },
      runtime.sessionKey,
    );
    (await cookies()).set(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: "lax",
      secure: client.secure,
      path: "/",
      maxAge: SESSION_TTL_SECONDS,
    });
    logger.info({ role: holder.role, tenantId: holder.role === "tenant" ? holder.tenantId : undefined }, "dashboard sign-in");
    return { ok: true, role: holder.role };
  } catch (error) {
    logger.error({ err: (error as Error).message }, "sign-in failed");
    return { ok: false, error: "Sign-in is not available right now: the server cannot reach its database or Redis." };
  }
}

/** Ends the session of this browser. */
export async function signOutSession(): Promise<void> {
  (await cookies()).delete(SESSION_COOKIE);
}
