export { raiseAlert, resolveCondition, acknowledgeAlert, resolveAlert, dedupeKeyOf, AlertError, raiseAlertInput, type RaiseAlert, type Alert } from "./raise";
export { routeAlert, type Channel } from "./routing";
export { atLeast } from "./severity";
export { setDeliveryKick, kickDeliveries } from "./kick";
export { newWebhookSecret, sealWebhookSecret, openWebhookSecret, webhookSecretPattern, type SecretBox } from "./secrets";
