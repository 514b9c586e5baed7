import { failure, type Failure } from "../core/errors";

/**
 * What `tenantOf` may answer for a user who may act for every tenant (an operator, Refresca's own admin key). A
 * registered symbol, so that copies of this module in one process (a bundler may make several) agree on it.
 */
export const ANY_TENANT: unique symbol = Symbol.for("refresca.anyTenant");

/** Who is signed in, as `tenantOf` answers: one tenant's id, every tenant, or nobody (null). */
export type TenantAccess = string | typeof ANY_TENANT | null | undefined;

/**
 * The membership rule of everything a browser can reach, in one place: nobody signed in → UNAUTHORIZED; a `tenantId`
 * that is not a string → INVALID_INPUT; a tenant other than the signed-in user's → FORBIDDEN. Undefined when the
 * call may go on (the operation then validates the rest of the input). Anything `tenantOf` answers other than a
 * non-empty string or ANY_TENANT counts as nobody: a sign-in that found no tenant must not pass as one.
 */
export function tenantAccessRefusal(access: TenantAccess, input: unknown): Failure | undefined {
  if (access !== ANY_TENANT && (typeof access !== "string" || access === "")) {
    return failure("UNAUTHORIZED", "Sign in first: there is no session, or it has expired.");
  }
  const tenantId = typeof input === "object" && input !== null ? (input as { tenantId?: unknown }).tenantId : undefined;
  if (typeof tenantId !== "string") return failure("INVALID_INPUT", "Invalid input: tenantId: must be a string.");
  if (access !== ANY_TENANT && access !== tenantId) return failure("FORBIDDEN", "This session may not act for that tenant.");
  return undefined;
}
