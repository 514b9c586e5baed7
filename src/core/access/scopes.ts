/** What a REST API key may do. `tokens:read` is the only scope whose answers carry a token. */
export const API_SCOPES = ["channels:read", "channels:write", "refresh", "tokens:read", "webhooks:write"] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** A key made without `--scopes` gets every scope but `tokens:read`, which must be asked for by name. */
export const DEFAULT_API_SCOPES: readonly ApiScope[] = API_SCOPES.filter((scope) => scope !== "tokens:read");

/** Who called the REST API: the key's id (never the key), its tenant (null: every tenant) and its scopes. */
export interface ApiPrincipal {
  keyId: string;
  name: string;
  tenantId: string | null;
  scopes: readonly ApiScope[];
}
