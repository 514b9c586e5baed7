import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import type { KeyRing } from "../crypto";

/** A new signing secret as Standard Webhooks writes them: `whsec_` and base64 of 32 random bytes. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

// The key ring binds an envelope to a tenant and a channel; a secret is bound to its endpoint instead.
const binding = (tenantId: string, endpointId: string) => ({ tenantId, channelId: `webhook:${endpointId}` });

/** Encrypts an endpoint's secret with the credentials' key ring, bound to the tenant and the endpoint. */
export function encryptSecret(keyRing: KeyRing, tenantId: string, endpointId: string, secret: string): string {
  return keyRing.encrypt({ accessToken: secret }, binding(tenantId, endpointId));
}

export function decryptSecret(keyRing: KeyRing, tenantId: string, endpointId: string, envelope: string): string {
  return keyRing.decrypt(envelope, binding(tenantId, endpointId)).accessToken;
}

/** The three Standard Webhooks headers of one attempt: the id stays, the timestamp is the attempt's. */
export function signedHeaders(secret: string, messageId: string, at: Date, body: string): Record<string, string> {
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(messageId, at, body),
  };
}
