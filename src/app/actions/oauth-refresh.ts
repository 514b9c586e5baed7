"use server";
// The specification's eight operations as Next.js server actions, made by the same factory a product's own app uses
// (`refresca/next`, see src/web/guard.ts): the session's tenant → the input's tenantId must be it (the admin key: any
// tenant) → the core operation validates the input with zod and answers. No answer ever carries a token.
import { oauthRefreshActions as actions, type OperationAnswer, type OperationInput } from "@/web/guard";

/** Refreshes one channel's token now, through its platform's API. */
export async function refreshChannelToken(input: OperationInput<"refreshChannelToken">): Promise<OperationAnswer<"refreshChannelToken">> {
  return actions.refreshChannelToken(input);
}

/** Refreshes the listed channels, or every channel of the tenant that needs it (expiring within 60 minutes). */
export async function refreshMultipleChannelTokens(input: OperationInput<"refreshMultipleChannelTokens">): Promise<OperationAnswer<"refreshMultipleChannelTokens">> {
  return actions.refreshMultipleChannelTokens(input);
}

/** The tenant's channels expiring within `refreshBeforeMinutes` (default 60), expired ones included, soonest first. */
export async function getChannelsNeedingTokenRefresh(input: OperationInput<"getChannelsNeedingTokenRefresh">): Promise<OperationAnswer<"getChannelsNeedingTokenRefresh">> {
  return actions.getChannelsNeedingTokenRefresh(input);
}

/** Queues one refresh of a channel after `delayMinutes`. */
export async function scheduleChannelTokenRefresh(input: OperationInput<"scheduleChannelTokenRefresh">): Promise<OperationAnswer<"scheduleChannelTokenRefresh">> {
  return actions.scheduleChannelTokenRefresh(input);
}

/** Sets the tenant's recurring refresh every `intervalMinutes`, replacing any previous one. */
export async function scheduleRecurringTokenRefresh(input: OperationInput<"scheduleRecurringTokenRefresh">): Promise<OperationAnswer<"scheduleRecurringTokenRefresh">> {
  return actions.scheduleRecurringTokenRefresh(input);
}

/** Stops the tenant's recurring refresh; `cancelled` is false when there was none. */
export async function cancelRecurringTokenRefresh(input: OperationInput<"cancelRecurringTokenRefresh">): Promise<OperationAnswer<"cancelRecurringTokenRefresh">> {
  return actions.cancelRecurringTokenRefresh(input);
}

/** The tenant's refresh jobs by state: active, waiting, delayed, completed, failed. */
export async function getTokenRefreshJobsStatus(input: OperationInput<"getTokenRefreshJobsStatus">): Promise<OperationAnswer<"getTokenRefreshJobsStatus">> {
  return actions.getTokenRefreshJobsStatus(input);
}

/** Counts of the tenant's channels by what they need. */
export async function getRefreshStatistics(input: OperationInput<"getRefreshStatistics">): Promise<OperationAnswer<"getRefreshStatistics">> {
  return actions.getRefreshStatistics(input);
}
