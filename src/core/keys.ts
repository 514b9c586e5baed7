import type { Redis } from "ioredis";
import type { KeyRing } from "./crypto";
import type { Store } from "./store";

export interface RotationProgress {
  reencrypted: number;
  /** Channels written by someone else while this batch ran; they are looked at again. */
  raced: number;
  /** Channels still encrypted with another key. */
  remaining: number;
}

/**
 * Re-encrypts every channel's credentials (and every stashed refresh awaiting recovery) with the key ring's active key,
 * in batches. Resumable by construction: each batch only picks rows whose key is not the active one, so a run that
 * crashed simply continues. Each row is written only if its version did not move, without bumping the version, so
 * refreshes running meanwhile are neither lost nor disturbed.
 */
export async function rotateKeys(
  deps: { store: Store; keyRing: KeyRing; redis: Redis; keyPrefix: string },
  options: { batchSize?: number; onProgress?: (progress: RotationProgress) => void } = {},
): Promise<RotationProgress> {
  const { store, keyRing } = deps;
  const pool = store.connection.pool;
  const batchSize = options.batchSize ?? 500;
  const active = keyRing.activeKeyId;
  const progress: RotationProgress = { reencrypted: 0, raced: 0, remaining: 0 };
  const count = async () =>
    (await pool.query<{ n: number }>("select count(*)::int as n from channels where key_id <> $1", [active])).rows[0]!.n;
  progress.remaining = await count();
  options.onProgress?.({ ...progress });

  let stalled = 0;
  while (progress.remaining > 0 && stalled < 5) {
    const { rows } = await pool.query<{ tenant_id: string; id: string; version: number; credentials: string }>(
      `select tenant_id, id, version, credentials from channels where key_id <> $1 order by tenant_id, id limit $2`,
      [active, batchSize],
    );
    if (rows.length === 0) break;
    const updates = rows.map((row) => {
      const binding = { tenantId: row.tenant_id, channelId: row.id };
      return [row.tenant_id, row.id, row.version, keyRing.encrypt(keyRing.decrypt(row.credentials, binding), binding)] as const;
    });
    const result = await pool.query(
      `update channels c set credentials = u.credentials, key_id = $1
         from unnest($2::text[], $3::text[], $4::int[], $5::text[]) as u(tenant_id, id, version, credentials)
        where c.tenant_id = u.tenant_id and c.id = u.id and c.version = u.version`,
      [active, updates.map((u) => u[0]), updates.map((u) => u[1]), updates.map((u) => u[2]), updates.map((u) => u[3])],
    );
    const written = result.rowCount ?? 0;
    progress.reencrypted += written;
    progress.raced += rows.length - written;
    stalled = written === 0 ? stalled + 1 : 0;
    progress.remaining = await count();
    options.onProgress?.({ ...progress });
  }
  await rotateStashes(deps);
  return progress;
}

/** Tokens kept in Redis for recovery are encrypted too: re-encrypt them so the old key can be dropped. */
async function rotateStashes(deps: { keyRing: KeyRing; redis: Redis; keyPrefix: string }): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await deps.redis.scan(cursor, "MATCH", `${deps.keyPrefix}recovery:*`, "COUNT", 500);
    cursor = next;
    for (const key of keys) {
      const raw = await deps.redis.get(key);
      if (!raw) continue;
      const stash = JSON.parse(raw) as { credentials: string; keyId: string; tenantId: string; channelId: string };
      if (stash.keyId === deps.keyRing.activeKeyId) continue;
      const binding = { tenantId: stash.tenantId, channelId: stash.channelId };
      const credentials = deps.keyRing.encrypt(deps.keyRing.decrypt(stash.credentials, binding), binding);
      const ttl = await deps.redis.ttl(key);
      await deps.redis.set(key, JSON.stringify({ ...stash, credentials, keyId: deps.keyRing.activeKeyId }), "EX", Math.max(ttl, 60));
    }
  } while (cursor !== "0");
}
