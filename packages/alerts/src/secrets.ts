/**
 * Webhook signing secrets at rest. A secret is 32 random bytes shown as 64 hex
 * characters; receivers use those 64 characters as the HMAC key. At rest it is
 * wrapped by the service KEK with the channel id bound as associated data, so a
 * sealed secret copied onto another channel's row does not open.
 */
import { randomBytes } from "node:crypto";

/** The KEK's wrap/unwrap of 32-byte keys (see ./kek for the one built on @tidemark/backup's). */
export type SecretBox = {
  wrap(aad: string, key: Buffer): string;
  unwrap(aad: string, wrapped: string): Buffer;
};

export const webhookSecretPattern = /^[0-9a-f]{64}$/;

export function newWebhookSecret(): string {
  return randomBytes(32).toString("hex");
}

const aad = (channelId: string) => `alert-channel:${channelId}`;

export function sealWebhookSecret(box: SecretBox, channelId: string, secret: string): string {
  if (!webhookSecretPattern.test(secret)) throw new Error("A webhook secret is 64 lowercase hex characters (32 bytes)");
  return box.wrap(aad(channelId), Buffer.from(secret, "hex"));
}

export function openWebhookSecret(box: SecretBox, channelId: string, sealed: string): string {
  return box.unwrap(aad(channelId), sealed).toString("hex");
}
