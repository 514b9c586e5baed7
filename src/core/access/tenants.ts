import { z } from "zod";
import type { Logger } from "../logger";
import { defineOperation } from "../operation";
import type { Store } from "../store";
import { idSchema } from "../validation";
import { generateApiKey, hashApiKey, looksLikeApiKey, secretsEqual } from "./api-keys";

const issueInput = z.strictObject({
  tenantId: idSchema,
  name: z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters").optional(),
});

/** Who signed in with a key. */
export type KeyHolder = { role: "admin" } | { role: "tenant"; tenantId: string; tenantName: string; keyId: string };

/** Tenants and their dashboard API keys. */
export function createTenantOperations(deps: { store: Store; logger: Logger }) {
  const { store, logger } = deps;
  return {
    /**
     * Creates the tenant if needed and issues it a new API key, replacing (and so revoking) the previous one.
     * The key is in this answer only: just its hash is stored. For trusted callers (the CLI), never a browser.
     */
    issueApiKey: defineOperation("tenants.issueApiKey", issueInput, logger, async (input) => {
      const { key, hash, id } = generateApiKey();
      const { created } = await store.tenants.setApiKey(input.tenantId, input.name, { hash, id });
      return { success: true as const, tenantId: input.tenantId, created, apiKey: key, keyId: id };
    }),

    /** The holder of `key`: the admin (when `adminKey` is set and matches), a tenant, or null. */
    async authenticate(key: string, adminKey?: string): Promise<KeyHolder | null> {
      if (adminKey !== undefined && secretsEqual(key, adminKey)) return { role: "admin" };
      if (!looksLikeApiKey(key)) return null;
      const hash = hashApiKey(key);
      // Found through an index on the hash: its timing can only tell about hashes, which an attacker cannot steer
      // towards a stored one. The stored hash is still compared in constant time, as every secret here is.
      const tenant = await store.tenants.findByApiKeyHash(hash);
      if (!tenant || !tenant.apiKeyId || !secretsEqual(tenant.apiKeyHash, hash)) return null;
      return { role: "tenant", tenantId: tenant.id, tenantName: tenant.name, keyId: tenant.apiKeyId };
    },

    /** The tenant with its current key id, or null. */
    get: (tenantId: string) => store.tenants.get(tenantId),

    /** Tenants in id order. */
    list: (options: { limit: number; offset?: number }) => store.tenants.list(options),
  };
}
