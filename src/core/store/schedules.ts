import { eq, sql } from "drizzle-orm";
import type { Database } from "./database";
import { refreshSchedules, type RefreshScheduleRow } from "./schema";

/** The recurring refresh of each tenant: SQL is the truth, the queue's schedulers are re-created from it. */
export class ScheduleRepository {
  constructor(private readonly db: Database) {}

  async upsert(tenantId: string, intervalMinutes: number, windowMinutes: number): Promise<RefreshScheduleRow> {
    const [row] = await this.db
      .insert(refreshSchedules)
      .values({ tenantId, intervalMinutes, windowMinutes })
      .onConflictDoUpdate({
        target: refreshSchedules.tenantId,
        set: { intervalMinutes, windowMinutes, updatedAt: sql`now()` },
      })
      .returning();
    return row!;
  }

  async get(tenantId: string): Promise<RefreshScheduleRow | null> {
    const [row] = await this.db.select().from(refreshSchedules).where(eq(refreshSchedules.tenantId, tenantId)).limit(1);
    return row ?? null;
  }

  async remove(tenantId: string): Promise<boolean> {
    const rows = await this.db
      .delete(refreshSchedules)
      .where(eq(refreshSchedules.tenantId, tenantId))
      .returning({ tenantId: refreshSchedules.tenantId });
    return rows.length > 0;
  }

  async all(): Promise<RefreshScheduleRow[]> {
    return this.db.select().from(refreshSchedules);
  }
}
