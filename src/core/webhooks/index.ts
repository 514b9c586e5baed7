export { WEBHOOK_EVENT_TYPES, DEFAULT_WEBHOOK_SETTINGS, retryDelayMs, type WebhookEventType, type WebhookSettings, type ResolveHost } from "./settings";
export { createWebhookOperations, type WebhookOperations, type WebhookEndpointView, type WebhookDeliveryView } from "./operations";
export { WebhookRunner } from "./runner";
export { isPublicAddress, urlProblem } from "./address";
export { ANSWER_BYTES } from "./send";
