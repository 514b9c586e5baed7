import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Database } from "./database";
import { apiKeys, type ApiKeyRow } from "./schema";

/** A REST API key as stored, without its hash: what listings return. */
export type ApiKeyRecord = Omit<ApiKeyRow, "keyHash">;

/** What `create` stores: the hash only, never the key. */
export interface ApiKeyWrite {
  id: string;
  name: string;
  tenantId: string | null;
  scopes: string[];
  keyHash: string;
}

const record = {
  id: apiKeys.id,
  name: apiKeys.name,
  tenantId: apiKeys.tenantId,
  scopes: apiKeys.scopes,
  createdAt: apiKeys.createdAt,
  lastUsedAt: apiKeys.lastUsedAt,
  revokedAt: apiKeys.revokedAt,
};

/** The REST API's keys (table `api_keys`). */
export class ApiKeyRepository {
  // Prepared by name on each connection: every REST request runs it, so neither Drizzle nor PostgreSQL re-plans it.
  private readonly findByHashStatement;

  constructor(private readonly db: Database) {
    this.findByHashStatement = db
      .select({ id: apiKeys.id, name: apiKeys.name, tenantId: apiKeys.tenantId, scopes: apiKeys.scopes, keyHash: apiKeys.keyHash })
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, sql.placeholder("keyHash")), isNull(apiKeys.revokedAt)))
      .limit(1)
      .prepare("refresca_api_key_by_hash");
  }

  async create(write: ApiKeyWrite): Promise<ApiKeyRecord> {
    const [row] = await this.db.insert(apiKeys).values(write).returning(record);
    return row!;
  }

  /** The unrevoked key whose hash is `keyHash` (one indexed lookup), with the stored hash to compare. */
  async findActiveByHash(keyHash: string): Promise<Pick<ApiKeyRow, "id" | "name" | "tenantId" | "scopes" | "keyHash"> | null> {
    const [row] = await this.findByHashStatement.execute({ keyHash });
    return row ?? null;
  }

  /** Newest first: one tenant's keys when `tenantId` is given (not the all-tenant ones), else every key. */
  async list(options: { tenantId?: string } = {}): Promise<ApiKeyRecord[]> {
    return this.db
      .select(record)
      .from(apiKeys)
      .where(options.tenantId === undefined ? undefined : eq(apiKeys.tenantId, options.tenantId))
      .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
  }

  /**
   * Revokes a key that is not revoked yet; with `tenantId`, only a key limited to that tenant (a tenant cannot touch
   * another's keys nor the all-tenant ones). Resolves to whether a key was revoked.
   */
  async revoke(id: string, options: { tenantId?: string } = {}): Promise<boolean> {
    const rows = await this.db
      .update(apiKeys)
      .set({ revokedAt: sql`now()` })
      .where(
        and(
          eq(apiKeys.id, id),
          isNull(apiKeys.revokedAt),
          options.tenantId === undefined ? undefined : eq(apiKeys.tenantId, options.tenantId),
        ),
      )
      .returning({ id: apiKeys.id });
    return rows.length > 0;
  }

  /** Marks the keys as used now: one statement for any number of keys. */
  async touch(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.update(apiKeys).set({ lastUsedAt: sql`now()` }).where(inArray(apiKeys.id, ids));
  }
}
