"use server";
// The dashboard's REST API key actions. Each one is the same wrapper as every other action (src/web/guard.ts): the
// session must be allowed to act for `tenantId` ("*" for every tenant: admins only, see src/web/api-key-access.ts),
// then the operation validates the rest. The new key is in `createApiKey`'s answer only, shown once. The keys page
// reads its list on the server, through the same wrapper.
import { dashboardApiKeys, type KeyCreateInput, type KeyRevokeInput } from "@/web/api-key-access";
import { withTenant } from "@/web/guard";

/** Makes a key limited to `tenantId` (or, for "*", valid for every tenant); the answer carries the key, once. */
export async function createApiKey(input: KeyCreateInput) {
  return withTenant("apiKeys.create", input, (refresca) => dashboardApiKeys(refresca).create(input));
}

/** Revokes a key of `tenantId` (for "*", any key). */
export async function revokeApiKey(input: KeyRevokeInput) {
  return withTenant("apiKeys.revoke", input, (refresca) => dashboardApiKeys(refresca).revoke(input));
}
