import { z } from "zod";
import { failure } from "../errors";
import type { Logger } from "../logger";
import { defineOperation } from "../operation";
import type { Store } from "../store";
import { idSchema } from "../validation";

/** Rows one audit answer carries when no limit is given, and at most. */
export const DEFAULT_AUDIT_ROWS = 100;
export const MAX_AUDIT_ROWS = 1000;

export const auditInput = z.strictObject({
  tenantId: idSchema,
  channelId: idSchema.optional(),
  since: z.iso.datetime({ offset: true, error: "must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z" }).optional(),
  limit: z
    .number({ error: "must be a number" })
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .max(MAX_AUDIT_ROWS, `must be at most ${MAX_AUDIT_ROWS}`)
    .default(DEFAULT_AUDIT_ROWS),
});

/** One reader's reads of one channel's token within one minute, as answers show it. */
export interface TokenReadView {
  channelId: string;
  /** The API key id that read, or "library". */
  reader: string;
  /** ISO-8601: the start of the minute. */
  minute: string;
  reads: number;
  /** How many of those reads refreshed the token first. */
  refreshed: number;
}

/** Reading the audit of token reads. Counts reach the table in batches, so the last few seconds may be missing. */
export function createAuditOperations(deps: { store: Store; logger: Logger }) {
  const { store, logger } = deps;
  return {
    /** Who read which channel's token, per minute, newest first. */
    audit: defineOperation("audit", auditInput, logger, async (input) => {
      const rows = await store.tokenReads.recent(input.tenantId, {
        ...(input.channelId && { channelId: input.channelId }),
        ...(input.since && { since: new Date(input.since) }),
        limit: input.limit,
      });
      if (rows.length === 0 && !(await store.tenants.exists(input.tenantId))) return failure("NOT_FOUND", "No tenant with this id.");
      const reads: TokenReadView[] = rows.map((row) => ({
        channelId: row.channelId,
        reader: row.reader,
        minute: row.minute.toISOString(),
        reads: row.reads,
        refreshed: row.refreshed,
      }));
      return { success: true as const, reads };
    }),
  };
}
