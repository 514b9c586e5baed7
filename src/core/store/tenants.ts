import { asc, eq, sql } from "drizzle-orm";
import type { Database } from "./database";
import { tenants } from "./schema";

/** A tenant as sign-in and the dashboard see it: never the key hash. */
export interface TenantSummary {
  id: string;
  name: string;
  /** Id of the tenant's current API key; null when it has none. */
  apiKeyId: string | null;
}

const summary = { id: tenants.id, name: tenants.name, apiKeyId: tenants.apiKeyId };

export class TenantRepository {
  constructor(private readonly db: Database) {}

  async exists(id: string): Promise<boolean> {
    const rows = await this.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, id)).limit(1);
    return rows.length > 0;
  }

  /** Creates the tenant if it is new; its name defaults to its id. */
  async ensure(id: string, name: string = id): Promise<void> {
    await this.db.insert(tenants).values({ id, name }).onConflictDoNothing();
  }

  async get(id: string): Promise<TenantSummary | null> {
    const [row] = await this.db.select(summary).from(tenants).where(eq(tenants.id, id)).limit(1);
    return row ?? null;
  }

  /** Tenants in id order, a page at a time (the admin's tenant picker). */
  async list(options: { limit: number; offset?: number }): Promise<TenantSummary[]> {
    return this.db.select(summary).from(tenants).orderBy(asc(tenants.id)).limit(options.limit).offset(options.offset ?? 0);
  }

  /**
   * Creates the tenant if needed (named `name`, else its id; an existing tenant is renamed only when a name is given)
   * and makes `key` its only API key. Resolves to whether the tenant was created.
   */
  async setApiKey(id: string, name: string | undefined, key: { hash: string; id: string }): Promise<{ created: boolean }> {
    const [row] = await this.db
      .insert(tenants)
      .values({ id, name: name ?? id, apiKeyHash: key.hash, apiKeyId: key.id, apiKeyCreatedAt: sql`now()` })
      .onConflictDoUpdate({
        target: tenants.id,
        set: { apiKeyHash: key.hash, apiKeyId: key.id, apiKeyCreatedAt: sql`now()`, ...(name !== undefined && { name }) },
      })
      // xmax is 0 only on a row this statement inserted.
      .returning({ created: sql<boolean>`xmax = 0` });
    return { created: row!.created };
  }

  /** The tenant whose API key hashes to `keyHash` (an indexed lookup), with the stored hash to compare. */
  async findByApiKeyHash(keyHash: string): Promise<(TenantSummary & { apiKeyHash: string }) | null> {
    const [row] = await this.db
      .select({ ...summary, apiKeyHash: tenants.apiKeyHash })
      .from(tenants)
      .where(eq(tenants.apiKeyHash, keyHash))
      .limit(1);
    return row?.apiKeyHash ? { ...row, apiKeyHash: row.apiKeyHash } : null;
  }
}
