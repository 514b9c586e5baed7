import { eq } from "drizzle-orm";
import type { Database } from "./database";
import { tenants } from "./schema";

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
}
