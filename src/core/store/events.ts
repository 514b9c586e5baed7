import { and, desc, eq } from "drizzle-orm";
import type { Database } from "./database";
import { refreshEvents, type RefreshEventRow } from "./schema";

/** The refresh attempts of a tenant: the debugging record the specification asks for. */
export class EventRepository {
  constructor(private readonly db: Database) {}

  async recent(tenantId: string, options: { channelId?: string; limit?: number } = {}): Promise<RefreshEventRow[]> {
    const where = options.channelId
      ? and(eq(refreshEvents.tenantId, tenantId), eq(refreshEvents.channelId, options.channelId))
      : eq(refreshEvents.tenantId, tenantId);
    return this.db
      .select()
      .from(refreshEvents)
      .where(where)
      .orderBy(desc(refreshEvents.createdAt), desc(refreshEvents.id))
      .limit(options.limit ?? 50);
  }
}
