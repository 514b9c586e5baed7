import { failure, type Failure } from "../core/errors";

/** Who is signed in: an admin (any tenant) or one tenant. */
export type Session = { role: "admin" } | { role: "tenant"; tenantId: string; tenantName: string };

/** The membership rule, in one place: a tenant session acts for its own tenant only; an admin for any. */
export function mayActFor(session: Session, tenantId: string): boolean {
  return session.role === "admin" || session.tenantId === tenantId;
}

/**
 * The access check of everything the browser can reach, separate from how the session is read so it can be tested
 * alone: no session → UNAUTHORIZED; a `tenantId` this session may not act for → FORBIDDEN; only then `run`, whose
 * operation validates the rest of the input. Nothing runs before both checks pass.
 */
export async function forSession<R extends object>(
  session: Session | null,
  input: unknown,
  run: () => Promise<R | Failure>,
): Promise<R | Failure> {
  if (!session) return failure("UNAUTHORIZED", "Sign in first: there is no session, or it has expired.");
  const tenantId = typeof input === "object" && input !== null ? (input as { tenantId?: unknown }).tenantId : undefined;
  if (typeof tenantId !== "string") return failure("INVALID_INPUT", "Invalid input: tenantId: must be a string.");
  if (!mayActFor(session, tenantId)) return failure("FORBIDDEN", "This session may not act for that tenant.");
  return run();
}
