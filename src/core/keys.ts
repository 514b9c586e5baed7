import type { Redis } from "ioredis";
import { EnvelopeError, type KeyRing } from "./crypto";
import type { Store } from "./store";
import { redisNames } from "./redis-names";

export interface RotationProgress {
  reencrypted: number;
  /** Channels written by someone else while this batch ran; they are looked at again. */
  raced: number;
  /** Channels still encrypted with another key (the unreadable ones included). */
  remaining: number;
  /** Channels whose credentials no configured key could decrypt: left as they are. */
  skipped: number;
  /** Which ones (the first MAX_LISTED_UNREADABLE), so that someone can look at them. */
  unreadable: UnreadableChannel[];
}

/** A channel `rotateKeys` could not decrypt, and why (the envelope's key is unknown, or the envelope is damaged). */
export interface UnreadableChannel {
  tenantId: string;
  channelId: string;
  keyId: string;
  reason: EnvelopeError["reason"];
  /** Where the unreadable envelope is: the channel's row, or tokens stashed in Redis for recovery. */
  source: "channel" | "recovery stash";
}

type StoredEnvelope = { tenant_id: string; id: string; version: number; credentials: string; key_id: string };

/** Unreadable channels named in the answer; beyond this they are only counted (a wrong key list makes every row one). */
export const MAX_LISTED_UNREADABLE = 1000;
// Passes over the table that re-encrypted nothing while rows were still racing with other writers: then stop.
const MAX_IDLE_PASSES = 5;

/**
 * Re-encrypts every channel's credentials (and every stashed refresh awaiting recovery) with the key ring's active key,
 * in batches. Resumable by construction: each batch only picks rows whose key is not the active one, so a run that
 * crashed simply continues. Each row is written only if its version did not move, without bumping the version, so
 * refreshes running meanwhile are neither lost nor disturbed. A row no configured key can decrypt is skipped and
 * named in `unreadable`; the batches walk on past it (keyset order), so one bad row never stops the rest.
 */
export async function rotateKeys(
  deps: { store: Store; keyRing: KeyRing; redis: Redis; keyPrefix: string },
  options: { batchSize?: number; onProgress?: (progress: RotationProgress) => void } = {},
): Promise<RotationProgress> {
  const { store, keyRing } = deps;
  const pool = store.connection.pool;
  const batchSize = options.batchSize ?? 500;
  const active = keyRing.activeKeyId;
  const unreadable = new Map<string, UnreadableChannel>();
  const progress: RotationProgress = { reencrypted: 0, raced: 0, remaining: 0, skipped: 0, unreadable: [] };
  const report = () => {
    progress.skipped = unreadable.size;
    progress.unreadable = [...unreadable.values()].slice(0, MAX_LISTED_UNREADABLE);
    options.onProgress?.({ ...progress });
  };
  const count = async () =>
    (await pool.query<{ n: number }>("select count(*)::int as n from channels where key_id <> $1", [active])).rows[0]!.n;
  progress.remaining = await count();
  report();

  // Each pass walks the rows on other keys once, in key order; rows that raced with a writer are met again next pass.
  for (let idle = 0; progress.remaining > unreadable.size && idle < MAX_IDLE_PASSES; ) {
    let after: { tenantId: string; id: string } | null = null;
    let written = 0;
    for (;;) {
      const { rows }: { rows: StoredEnvelope[] } = await pool.query<StoredEnvelope>(
        `select tenant_id, id, version, credentials, key_id from channels
          where key_id <> $1 and ($2::text is null or (tenant_id, id) > ($2::text, $3::text))
          order by tenant_id, id limit $4`,
        [active, after?.tenantId ?? null, after?.id ?? null, batchSize],
      );
      if (rows.length === 0) break;
      const last: StoredEnvelope = rows[rows.length - 1]!;
      after = { tenantId: last.tenant_id, id: last.id };
      const updates: Array<readonly [string, string, number, string]> = [];
      for (const row of rows) {
        const binding = { tenantId: row.tenant_id, channelId: row.id };
        const key = `${row.tenant_id}\u0000${row.id}`;
        try {
          updates.push([row.tenant_id, row.id, row.version, keyRing.encrypt(keyRing.decrypt(row.credentials, binding), binding)]);
          unreadable.delete(key);
        } catch (error) {
          if (!(error instanceof EnvelopeError)) throw error;
          unreadable.set(key, { tenantId: row.tenant_id, channelId: row.id, keyId: row.key_id, reason: error.reason, source: "channel" });
        }
      }
      const result = updates.length === 0 ? { rowCount: 0 } : await pool.query(
        `update channels c set credentials = u.credentials, key_id = $1
           from unnest($2::text[], $3::text[], $4::int[], $5::text[]) as u(tenant_id, id, version, credentials)
          where c.tenant_id = u.tenant_id and c.id = u.id and c.version = u.version`,
        [active, updates.map((u) => u[0]), updates.map((u) => u[1]), updates.map((u) => u[2]), updates.map((u) => u[3])],
      );
      written += result.rowCount ?? 0;
      progress.reencrypted += result.rowCount ?? 0;
      progress.raced += updates.length - (result.rowCount ?? 0);
      progress.remaining = await count();
      report();
    }
    idle = written === 0 ? idle + 1 : 0;
  }
  for (const stash of await rotateStashes(deps)) unreadable.set(`stash\u0000${stash.tenantId}\u0000${stash.channelId}`, stash);
  report();
  return progress;
}

/**
 * Tokens kept in Redis for recovery are encrypted too (the new tokens, and the credentials they replace): re-encrypt
 * them so the old key can be dropped. Answers the stashes no configured key could decrypt (left as they are).
 */
async function rotateStashes(deps: { keyRing: KeyRing; redis: Redis; keyPrefix: string }): Promise<UnreadableChannel[]> {
  const { keyRing } = deps;
  const unreadable: UnreadableChannel[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await deps.redis.scan(cursor, "MATCH", redisNames(deps.keyPrefix).recoveryStashes, "COUNT", 500);
    cursor = next;
    for (const key of keys) {
      const raw = await deps.redis.get(key);
      if (!raw) continue;
      const stash = JSON.parse(raw) as { credentials: string; replaces?: string; keyId: string; tenantId: string; channelId: string };
      if (stash.keyId === keyRing.activeKeyId) continue;
      const binding = { tenantId: stash.tenantId, channelId: stash.channelId };
      try {
        const credentials = keyRing.encrypt(keyRing.decrypt(stash.credentials, binding), binding);
        const replaces = stash.replaces === undefined ? undefined : keyRing.encrypt(keyRing.decrypt(stash.replaces, binding), binding);
        const ttl = await deps.redis.ttl(key);
        const rotated = { ...stash, credentials, ...(replaces !== undefined && { replaces }), keyId: keyRing.activeKeyId };
        await deps.redis.set(key, JSON.stringify(rotated), "EX", Math.max(ttl, 60));
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        unreadable.push({ ...binding, keyId: stash.keyId, reason: error.reason, source: "recovery stash" });
      }
    }
  } while (cursor !== "0");
  return unreadable;
}
