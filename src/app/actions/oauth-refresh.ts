"use server";
// The specification's eight operations as Next.js server actions. Each one is the same wrapper (src/web/guard.ts):
// read the session → check it may act for `tenantId` (a tenant key: its own tenant only; the admin key: any) → the
// core operation validates the input with zod and answers. No answer ever carries a token.
import { tenantOperation, type OperationAnswer, type OperationInput } from "@/web/guard";

/** Refreshes one channel's token now, through its platform's API. */
export async function refreshChannelToken(
  input: OperationInput<"refreshChannelToken">,
): Promise<OperationAnswer<"refreshChannelToken">> {
  return tenantOperation("refreshChannelToken", input);
}

/** Refreshes the listed channels, or every channel of the tenant that needs it (expiring within 60 minutes). */
export async function refreshMultipleChannelTokens(
  input: OperationInput<"refreshMultipleChannelTokens">,
): Promise<OperationAnswer<"refreshMultipleChannelTokens">> {
  return tenantOperation("refreshMultipleChannelTokens", input);
}

/** The tenant's channels expiring within `refreshBeforeMinutes` (default 60), expired ones included, soonest first. */
export async function getChannelsNeedingTokenRefresh(
  input: OperationInput<"getChannelsNeedingTokenRefresh">,
): Promise<OperationAnswer<"getChannelsNeedingTokenRefresh">> {
  return tenantOperation("getChannelsNeedingTokenRefresh", input);
}

/** Queues one refresh of a channel after `delayMinutes`. */
export async function scheduleChannelTokenRefresh(
  input: OperationInput<"scheduleChannelTokenRefresh">,
): Promise<OperationAnswer<"scheduleChannelTokenRefresh">> {
  return tenantOperation("scheduleChannelTokenRefresh", input);
}

/** Sets the tenant's recurring refresh every `intervalMinutes`, replacing any previous one. */
export async function scheduleRecurringTokenRefresh(
  input: OperationInput<"scheduleRecurringTokenRefresh">,
): Promise<OperationAnswer<"scheduleRecurringTokenRefresh">> {
  return tenantOperation("scheduleRecurringTokenRefresh", input);
}

/** Stops the tenant's recurring refresh; `cancelled` is false when there was none. */
export async function cancelRecurringTokenRefresh(
  input: OperationInput<"cancelRecurringTokenRefresh">,
): Promise<OperationAnswer<"cancelRecurringTokenRefresh">> {
  return tenantOperation("cancelRecurringTokenRefresh", input);
}

/** The tenant's refresh jobs by state: active, waiting, delayed, completed, failed. */
export async function getTokenRefreshJobsStatus(
  input: OperationInput<"getTokenRefreshJobsStatus">,
): Promise<OperationAnswer<"getTokenRefreshJobsStatus">> {
  return tenantOperation("getTokenRefreshJobsStatus", input);
}

/** Counts of the tenant's channels by what they need. */
export async function getRefreshStatistics(
  input: OperationInput<"getRefreshStatistics">,
): Promise<OperationAnswer<"getRefreshStatistics">> {
  return tenantOperation("getRefreshStatistics", input);
}
