"use server";
// The dashboard's webhook actions: the same wrapper as every other action (src/web/guard.ts) checks that the session may
// act for `tenantId`, then the library's operation validates the rest. The signing secret is in `addWebhook`'s answer
// only, shown once.
import { withTenant } from "@/web/guard";

type Ref = { tenantId: string; endpointId: string };

export async function addWebhook(input: { tenantId: string; url: string; events?: string[] }) {
  return withTenant("webhooks.add", input, (refresca) => refresca.webhooks.add(input as never));
}

export async function setWebhookEnabled(input: Ref & { enabled: boolean }) {
  return withTenant("webhooks.update", input, (refresca) => refresca.webhooks.update(input));
}

export async function removeWebhook(input: Ref) {
  return withTenant("webhooks.remove", input, (refresca) => refresca.webhooks.remove(input));
}

export async function sendTestWebhook(input: Ref) {
  return withTenant("webhooks.test", input, (refresca) => refresca.webhooks.test(input));
}

export async function redeliverWebhook(input: Ref & { deliveryId: string }) {
  return withTenant("webhooks.redeliver", input, (refresca) => refresca.webhooks.redeliver(input));
}
