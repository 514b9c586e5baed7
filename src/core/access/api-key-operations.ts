import { randomBytes } from "node:crypto";
import { z } from "zod";
import { failure } from "../errors";
import type { Logger } from "../logger";
import { defineOperation } from "../operation";
import type { ApiKeyRecord, Store } from "../store";
import { idSchema } from "../validation";
import { hashApiKey, secretsEqual } from "./api-keys";
import { ApiKeyUsage } from "./api-key-usage";
import type { PrincipalCache } from "./principal-cache";
import { API_SCOPES, DEFAULT_API_SCOPES, type ApiPrincipal, type ApiScope } from "./scopes";

/** Every REST API key starts with this: told apart at a glance (and by secret scanners) from a dashboard key (`rk_`). */
export const REST_API_KEY_PREFIX = "rka_";
const REST_API_KEY_SHAPE = /^rka_[A-Za-z0-9_-]{43}$/;
const KEY_ID_SHAPE = /^key_[0-9a-f]{12}$/;

/** A REST API key as listings show it: never the key, never its hash. Times are ISO-8601. */
export interface ApiKeyView {
  id: string;
  name: string;
  /** null: the key may act for every tenant. */
  tenantId: string | null;
  scopes: ApiScope[];
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const scopeSchema = z.enum(API_SCOPES, {
  error: (issue) =>
    typeof issue.input === "string"
      ? `unknown scope "${issue.input.slice(0, 64)}" (known: ${API_SCOPES.join(", ")})`
      : "must be a string",
});

const createInput = z.strictObject({
  name: z.string({ error: "must be a string" }).trim().min(1, "must not be empty").max(200, "must be at most 200 characters"),
  /** Absent: the key may act for every tenant. */
  tenantId: idSchema.optional(),
  scopes: z.array(scopeSchema).min(1, "must name at least one scope").max(API_SCOPES.length * 2).optional(),
});
const listInput = z.strictObject({ tenantId: idSchema.optional() });
const revokeInput = z.strictObject({
  id: z.string({ error: "must be a string" }).regex(KEY_ID_SHAPE, "must be an API key id (key_ and 12 hex digits)"),
  tenantId: idSchema.optional(),
});

const known = (scope: string): scope is ApiScope => (API_SCOPES as readonly string[]).includes(scope);

function toView(row: ApiKeyRecord): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    tenantId: row.tenantId,
    scopes: row.scopes.filter(known),
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

/**
 * The REST API's keys: made, listed and revoked by trusted callers (the CLI, the dashboard's guarded actions), and
 * checked on every REST request by `authenticate`. Keys are stored as SHA-256 only (see api-keys.ts on why a fast
 * hash suits a 256-bit key).
 */
export function createApiKeyOperations(deps: { store: Store; logger: Logger; touchIntervalMs?: number; cache?: PrincipalCache }) {
  const { store, logger } = deps;
  const usage = new ApiKeyUsage((ids) => store.apiKeys.touch(ids), logger, deps.touchIntervalMs);

  async function lookUp(hash: string): Promise<ApiPrincipal | null> {
    // Found through an index on the hash: its timing tells only about hashes, which a caller cannot steer towards
    // a stored one. The stored hash is still compared in constant time, as every secret here is.
    const row = await store.apiKeys.findActiveByHash(hash);
    if (!row || !secretsEqual(row.keyHash, hash)) return null;
    return { keyId: row.id, name: row.name, tenantId: row.tenantId, scopes: row.scopes.filter(known) };
  }

  return {
    /** Makes a key; the key is in this answer only. A tenant that does not exist yet is fine (a PUT creates it). */
    create: defineOperation("apiKeys.create", createInput, logger, async (input) => {
      const apiKey = `${REST_API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
      const asked = new Set<ApiScope>(input.scopes ?? DEFAULT_API_SCOPES);
      const row = await store.apiKeys.create({
        id: `key_${randomBytes(6).toString("hex")}`,
        name: input.name,
        tenantId: input.tenantId ?? null,
        scopes: API_SCOPES.filter((scope) => asked.has(scope)),
        keyHash: hashApiKey(apiKey),
      });
      logger.info({ keyId: row.id, tenantId: row.tenantId, scopes: row.scopes }, "REST API key created");
      return { success: true as const, apiKey, key: toView(row) };
    }),

    /** Keys newest first: one tenant's (not the all-tenant ones) when `tenantId` is given, else every key. */
    list: defineOperation("apiKeys.list", listInput, logger, async (input) => {
      const rows = await store.apiKeys.list(input.tenantId === undefined ? {} : { tenantId: input.tenantId });
      return { success: true as const, keys: rows.map(toView) };
    }),

    /** Revokes a key at once; with `tenantId`, only a key limited to that tenant. */
    revoke: defineOperation("apiKeys.revoke", revokeInput, logger, async (input) => {
      const revoked = await store.apiKeys.revoke(input.id, input.tenantId === undefined ? {} : { tenantId: input.tenantId });
      if (!revoked) return failure("NOT_FOUND", "No such API key, or it is already revoked.");
      logger.info({ keyId: input.id }, "REST API key revoked");
      // Web processes that remember the key forget it now; one that misses this empties its cache on reconnecting.
      await deps.cache?.announceRevocation(input.id).catch((error: Error) => {
        logger.warn({ keyId: input.id, err: error.message }, "could not announce the revocation: web processes refuse the key within 30 s");
      });
      return { success: true as const, revoked: true as const };
    }),

    /**
     * Who holds `key`, or null (unknown, malformed or revoked). The REST API's hot path: text that is not shaped like
     * a key costs no query; a key the cache remembers costs none either (see PrincipalCache on revocation); any other
     * one indexed, prepared SELECT. Its use is recorded in memory and written later (ApiKeyUsage). Rejects only when
     * the database cannot be reached.
     */
    async authenticate(key: string): Promise<ApiPrincipal | null> {
      if (typeof key !== "string" || !REST_API_KEY_SHAPE.test(key)) return null;
      const hash = hashApiKey(key);
      const remembered = deps.cache?.get(hash);
      const principal = remembered ?? (await (deps.cache ? deps.cache.load(hash, () => lookUp(hash)) : lookUp(hash)));
      if (principal) usage.record(principal.keyId);
      return principal;
    },

    /** Writes the pending `last_used_at` updates now. */
    flush: () => usage.flush(),

    /** Writes what is pending and stops the timer; Refresca's `close()` calls it. */
    close: () => usage.close(),
  };
}

export type ApiKeyOperations = ReturnType<typeof createApiKeyOperations>;
