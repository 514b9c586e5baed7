import type { Failure } from "../core/errors";
import { failureFor } from "../core/operation";
import type { Refresca } from "../refresca";
import { currentSession } from "./auth";
import { forSession } from "./policy";
import { webLogger, webRuntime } from "./runtime";

/** The specification's eight operations, as the server actions expose them. */
export type SpecOperation =
  | "refreshChannelToken"
  | "refreshMultipleChannelTokens"
  | "getChannelsNeedingTokenRefresh"
  | "scheduleChannelTokenRefresh"
  | "scheduleRecurringTokenRefresh"
  | "cancelRecurringTokenRefresh"
  | "getTokenRefreshJobsStatus"
  | "getRefreshStatistics";

export type OperationInput<K extends SpecOperation> = Parameters<Refresca[K]>[0];
export type OperationAnswer<K extends SpecOperation> = Awaited<ReturnType<Refresca[K]>>;

/**
 * The one wrapper of everything the browser can reach (server actions, route handlers, page reads): read the
 * session → check that it may act for the requested tenant → run the core operation, which validates its input with
 * zod. Nothing is touched before both checks pass. Expected failures come back as `{ success: false, error, code }`;
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

/** A specification operation behind the wrapper: what every export of `@/app/actions/oauth-refresh` is. */
export function tenantOperation<K extends SpecOperation>(operation: K, input: OperationInput<K>): Promise<OperationAnswer<K>> {
  return withTenant(operation, input, (refresca) =>
    (refresca[operation] as (input: OperationInput<K>) => Promise<OperationAnswer<K>>)(input),
  ) as Promise<OperationAnswer<K>>;
}
