import { and, eq, sql } from "drizzle-orm";
import type { Database } from "./database";
import { channels, type ChannelRow } from "./schema";

/** What handing out a channel's token needs of its row: the envelope, the expiry, the state, the non-secret facts. */
export type ChannelTokenRow = Pick<
  ChannelRow,
  "tenantId" | "id" | "type" | "status" | "credentials" | "expiresAt" | "meta" | "platformDetails" | "lastErrorCode" | "lastError"
>;

const columns = {
  tenantId: channels.tenantId,
  id: channels.id,
  type: channels.type,
  status: channels.status,
  credentials: channels.credentials,
  expiresAt: channels.expiresAt,
  meta: channels.meta,
  platformDetails: channels.platformDetails,
  lastErrorCode: channels.lastErrorCode,
  lastError: channels.lastError,
};

/**
 * The read behind every token handed out (`getAccessToken`, the REST token route): ten columns instead of the row's
 * twenty-odd, prepared by name, because on that route parsing the row's description and values is a measurable part
 * of each request (docs/BENCHMARKS.md, "Token reads").
 */
export class ChannelTokenQuery {
  private readonly statement;

  constructor(db: Database) {
    this.statement = db
      .select(columns)
      .from(channels)
      .where(and(eq(channels.tenantId, sql.placeholder("tenantId")), eq(channels.id, sql.placeholder("id"))))
      .limit(1)
      .prepare("refresca_channel_token");
  }

  /** The channel's token row, or null when this tenant has no such channel. */
  async find(tenantId: string, id: string): Promise<ChannelTokenRow | null> {
    const [row] = await this.statement.execute({ tenantId, id });
    return row ?? null;
  }
}
