import type { ApiScope } from "../core/access/scopes";
import type { Refresca } from "../refresca";

/**
 * In the dashboard's key actions, `tenantId: "*"` stands for every tenant. No tenant id can start with "*", so the
 * wrapper's membership rule (a tenant session acts for its own id only, an admin for any) already keeps it to admins:
 * no second access rule to get wrong.
 */
export const ALL_TENANTS = "*";

/** What the dashboard's key actions send: the tenant acted for (or ALL_TENANTS) first, as the wrapper checks it. */
export interface KeyListInput {
  tenantId: string;
}
export interface KeyCreateInput extends KeyListInput {
  name: string;
  scopes: ApiScope[];
}
export interface KeyRevokeInput extends KeyListInput {
  id: string;
}

const limitTo = (tenantId: string) => (tenantId === ALL_TENANTS ? {} : { tenantId });

/**
 * The REST API key operations as the dashboard reaches them, after the wrapper checked `tenantId`: a tenant lists,
 * makes and revokes only keys limited to itself; ALL_TENANTS lists every key, makes all-tenant keys, revokes any.
 * The operations validate the rest, and only the named fields are passed on.
 */
export function dashboardApiKeys(refresca: Refresca) {
  return {
    list: (input: KeyListInput) => refresca.apiKeys.list(limitTo(input.tenantId)),
    create: (input: KeyCreateInput) =>
      refresca.apiKeys.create({ name: input.name, scopes: input.scopes, ...limitTo(input.tenantId) }),
    revoke: (input: KeyRevokeInput) => refresca.apiKeys.revoke({ id: input.id, ...limitTo(input.tenantId) }),
  };
}
