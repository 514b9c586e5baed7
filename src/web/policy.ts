import type { Failure } from "../core/errors";
import { ANY_TENANT, tenantAccessRefusal, type TenantAccess } from "../next/access";

/** Who is signed in: an admin (any tenant) or one tenant. */
export type Session = { role: "admin" } | { role: "tenant"; tenantId: string; tenantName: string };

/** The membership rule, in one place: a tenant session acts for its own tenant only; an admin for any. */
export function mayActFor(session: Session, tenantId: string): boolean {
  return session.role === "admin" || session.tenantId === tenantId;
}

/** A dashboard session as `refresca/next`'s `tenantOf` answers: its tenant, every tenant for the admin, or null. */
export function sessionTenant(session: Session | null): TenantAccess {
  if (!session) return null;
  return session.role === "admin" ? ANY_TENANT : session.tenantId;
}

/**
 * The access check of everything the browser can reach, separate from how the session is read so it can be tested
 * alone — the same rule as `refresca/next`'s actions: no session → UNAUTHORIZED; a `tenantId` this session may not
 * act for → FORBIDDEN; only then `run`, whose operation validates the rest of the input. Nothing runs before both
 * checks pass.
 */
export async function forSession<R extends object>(
  session: Session | null,
  input: unknown,
  run: () => Promise<R | Failure>,
): Promise<R | Failure> {
  return tenantAccessRefusal(sessionTenant(session), input) ?? run();
}
