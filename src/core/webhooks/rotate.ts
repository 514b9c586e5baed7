import type { KeyRing } from "../crypto";
import type { WebhookRepository } from "../store/webhooks";
import { decryptSecret, encryptSecret } from "./signing";

/**
 * Re-encrypts every webhook signing secret not under the key ring's first key (part of `refresca keys rotate`).
 * A secret no configured key can decrypt is left as it is and counted; one replaced meanwhile is taken on the next run.
 */
export async function rotateWebhookSecrets(repository: WebhookRepository, keyRing: KeyRing, batchSize = 500): Promise<{ reencrypted: number; unreadable: string[] }> {
  let reencrypted = 0;
  const unreadable: string[] = [];
  for (;;) {
    const rows = (await repository.secretsNotUnder(keyRing.activeKeyId, batchSize + unreadable.length)).filter((row) => !unreadable.includes(row.id));
    if (rows.length === 0) break;
    for (const row of rows) {
      let secret: string;
      try {
        secret = decryptSecret(keyRing, row.tenantId, row.id, row.secret);
      } catch {
        unreadable.push(row.id);
        continue;
      }
      if (await repository.replaceSecret(row.id, row.secret, encryptSecret(keyRing, row.tenantId, row.id, secret), keyRing.activeKeyId)) reencrypted += 1;
    }
  }
  return { reencrypted, unreadable };
}
