import { cookies } from "next/headers";
import { cache } from "react";
import { webRuntime } from "./runtime";
import { adminKeyId, openSession, SESSION_COOKIE } from "./session";

import type { Session } from "./policy";

export type { Session } from "./policy";
export { mayActFor } from "./policy";

/**
 * The session of the current request, or null: the cookie must be validly signed and unexpired, AND its key must
 * still be the current one (a new tenant key or admin key ends older sessions). Read once per request.
 */
export const currentSession = cache(async (): Promise<Session | null> => {
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  if (!token) return null;
  const runtime = await webRuntime();
  const claims = await openSession(token, runtime.sessionKey);
  if (!claims) return null;
  if (claims.role === "admin") {
    return runtime.adminKey !== undefined && claims.keyId === adminKeyId(runtime.adminKey) ? { role: "admin" } : null;
  }
  const tenant = await runtime.refresca.tenants.get(claims.tenantId);
  if (!tenant || tenant.apiKeyId !== claims.keyId) return null;
  return { role: "tenant", tenantId: tenant.id, tenantName: tenant.name };
});
