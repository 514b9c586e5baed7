import type pg from "pg";

/** One reader's reads of one channel within one minute. */
export interface TokenReadCount {
  tenantId: string;
  channelId: string;
  /** An API key id, or "library". */
  reader: string;
  /** The start of the minute. */
  minute: Date;
  reads: number;
  /** How many of those reads refreshed the token first. */
  refreshed: number;
}

export interface TokenReadQuery {
  channelId?: string;
  /** Only minutes from this instant on. */
  since?: Date;
  limit: number;
}

// Arrays in, one row per element out: a batch of any size is one statement with six parameters (no limit on the
// number of bind parameters to reach). A batch never holds the same key twice, which ON CONFLICT requires.
const ADD_COUNTS = `
insert into token_reads (tenant_id, channel_id, reader, minute, reads, refreshed)
select * from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[], $6::int[])
on conflict (tenant_id, channel_id, reader, minute)
do update set reads = token_reads.reads + excluded.reads, refreshed = token_reads.refreshed + excluded.refreshed`;

/** The audit of token reads: counts added in batches, read back newest first. */
export class TokenReadRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** Adds the counts to what is stored for each (tenant, channel, reader, minute), in one statement. */
  async add(counts: readonly TokenReadCount[]): Promise<void> {
    if (counts.length === 0) return;
    await this.pool.query({
      name: "refresca_token_reads_add",
      text: ADD_COUNTS,
      values: [
        counts.map((count) => count.tenantId),
        counts.map((count) => count.channelId),
        counts.map((count) => count.reader),
        counts.map((count) => count.minute),
        counts.map((count) => count.reads),
        counts.map((count) => count.refreshed),
      ],
    });
  }

  /** A tenant's counts, newest minute first. */
  async recent(tenantId: string, query: TokenReadQuery): Promise<TokenReadCount[]> {
    const { rows } = await this.pool.query<TokenReadCount>(
      `select tenant_id as "tenantId", channel_id as "channelId", reader, minute, reads, refreshed
         from token_reads
        where tenant_id = $1
          and ($2::text is null or channel_id = $2::text)
          and ($3::timestamptz is null or minute >= $3::timestamptz)
        order by minute desc, channel_id, reader
        limit $4`,
      [tenantId, query.channelId ?? null, query.since ?? null, query.limit],
    );
    return rows;
  }

  /** Deletes the counts of minutes before `before`; resolves to how many rows went. */
  async deleteOlderThan(before: Date): Promise<number> {
    const { rowCount } = await this.pool.query("delete from token_reads where minute < $1", [before]);
    return rowCount ?? 0;
  }
}
