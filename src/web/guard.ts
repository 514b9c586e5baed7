import type { Failure } from "../core/errors";
import { failureFor } from "../core/operation";
import { createOAuthRefreshActions, type OAuthRefreshAction, type OperationAnswer, type OperationInput } from "../next";
import type { Refresca } from "../refresca";
import { currentSession } from "./auth";
import { forSession, sessionTenant } from "./policy";
import { webLogger, webRuntime } from "./runtime";

/** The specification's eight operations, as the server actions expose them. */
export type SpecOperation = OAuthRefreshAction;
export type { OperationAnswer, OperationInput };

/**
 * The specification's eight server actions of Refresca's own app: made by the same factory a product uses
 * (`refresca/next`), with the dashboard session as `tenantOf` (a tenant key: its own tenant; the admin key: any).
 */
export const oauthRefreshActions = createOAuthRefreshActions({
  refresca: async () => (await webRuntime()).refresca,
  tenantOf: async () => sessionTenant(await currentSession()),
  logger: webLogger,
});

/**
 * The same wrapper for what the browser can reach beyond the eight (dashboard reads, API key actions): read the
 * session → check that it may act for the requested tenant → run, whose operation validates its input with zod.
 * Nothing is touched before both checks pass. Expected failures come back as `{ success: false, error, code }`;
 * anything unexpected is logged and answered with a generic sentence.
 */
export async function withTenant<R extends object>(
  operation: string,
  input: unknown,
  run: (refresca: Refresca) => Promise<R | Failure>,
): Promise<R | Failure> {
  try {
    return await forSession(await currentSession(), input, async () => run((await webRuntime()).refresca));
  } catch (error) {
    return failureFor(error, operation, webLogger);
  }
}

/** A specification operation behind the access check, for pages and route handlers (the actions are the same). */
export function tenantOperation<K extends SpecOperation>(operation: K, input: OperationInput<K>): Promise<OperationAnswer<K>> {
  return oauthRefreshActions[operation](input) as Promise<OperationAnswer<K>>;
}
