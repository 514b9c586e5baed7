/**
 * `refresca/next`: the specification's eight server actions for a product's own Next.js app, from its Refresca and
 * its own sign-in. The product's `app/actions/oauth-refresh.ts` ("use server") makes them once and exports each:
 *
 *     const actions = createOAuthRefreshActions({ refresca, tenantOf: async () => (await auth())?.tenantId ?? null });
 *     export async function refreshChannelToken(input: unknown) { return actions.refreshChannelToken(input); }
 *
 * Framework-free on purpose: it imports neither Next.js nor React, so it works with the product's own Next version.
 */
import { failureFor } from "../core/operation";
import type { Logger } from "../core/logger";
import type { Refresca } from "../refresca";
import { tenantAccessRefusal, type TenantAccess } from "./access";

export { ANY_TENANT, tenantAccessRefusal, type TenantAccess } from "./access";

/** The specification's eight operations: the only ones a browser may reach (never `getAccessToken`). */
export const OAUTH_REFRESH_ACTIONS = [
  "refreshChannelToken",
  "refreshMultipleChannelTokens",
  "getChannelsNeedingTokenRefresh",
  "scheduleChannelTokenRefresh",
  "scheduleRecurringTokenRefresh",
  "cancelRecurringTokenRefresh",
  "getTokenRefreshJobsStatus",
  "getRefreshStatistics",
] as const;

export type OAuthRefreshAction = (typeof OAUTH_REFRESH_ACTIONS)[number];
/** What an action takes, as the library's operation declares it (the action itself accepts anything and validates). */
export type OperationInput<K extends OAuthRefreshAction> = Parameters<Refresca[K]>[0];
/** What an action answers: the operation's `{ success: true, … }`, or `{ success: false, error, code }`. */
export type OperationAnswer<K extends OAuthRefreshAction> = Awaited<ReturnType<Refresca[K]>>;

/** The eight actions. Each takes untrusted input (a server action's arguments come from the browser). */
export type OAuthRefreshActions = { [K in OAuthRefreshAction]: (input: unknown) => Promise<OperationAnswer<K>> };

export interface OAuthRefreshActionsOptions {
  /**
   * The product's Refresca; or a promise of one; or a function returning one (or its promise), called on the first
   * action — again after it failed — so the product may create it lazily.
   */
  refresca: Refresca | PromiseLike<Refresca> | (() => Refresca | PromiseLike<Refresca>);
  /**
   * The tenant the signed-in user acts for, from the product's own sign-in; null (or undefined) when nobody is
   * signed in, which every action answers with UNAUTHORIZED. An input naming another tenant is answered FORBIDDEN
   * and nothing is touched. `ANY_TENANT` lets the user act for every tenant (an operator): give it with care.
   */
  tenantOf: () => TenantAccess | PromiseLike<TenantAccess>;
  /** Where unexpected errors are logged. @defaultValue the Refresca's own logger (console.error until it exists) */
  logger?: Pick<Logger, "error">;
}

const consoleLogger: Pick<Logger, "error"> = {
  error: ((details: object, message: string) => console.error(message, details)) as Logger["error"],
};

/**
 * The specification's eight server actions, each: the signed-in user's tenant (`tenantOf`) → the input's `tenantId`
 * must be that tenant → the library's operation, which validates the rest with zod and answers. Expected failures
 * come back as `{ success: false, error, code }`; an unexpected error is logged and answered with a generic sentence.
 * No answer carries a token.
 */
export function createOAuthRefreshActions(options: OAuthRefreshActionsOptions): OAuthRefreshActions {
  const { tenantOf } = options;
  let instance: Promise<Refresca> | undefined;
  const refresca = (): Promise<Refresca> => {
    const source = options.refresca;
    instance ??= Promise.resolve(typeof source === "function" ? source() : source).catch((error: unknown) => {
      instance = undefined; // the next action tries again (the database may be starting)
      throw error;
    });
    return instance;
  };
  let logger = options.logger;

  const action = <K extends OAuthRefreshAction>(name: K) =>
    async (input: unknown): Promise<OperationAnswer<K>> => {
      try {
        const refused = tenantAccessRefusal(await tenantOf(), input);
        if (refused) return refused as OperationAnswer<K>;
        const ready = await refresca();
        logger ??= ready.internals.logger;
        return await (ready[name] as (input: unknown) => Promise<OperationAnswer<K>>)(input);
      } catch (error) {
        return failureFor(error, name, logger ?? consoleLogger) as OperationAnswer<K>;
      }
    };

  return Object.fromEntries(OAUTH_REFRESH_ACTIONS.map((name) => [name, action(name)])) as OAuthRefreshActions;
}
