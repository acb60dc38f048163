/**
 * Signed webhooks.
 *
 * Headers on every request:
 *   X-Tidemark-Timestamp: <unix seconds>
 *   X-Tidemark-Signature: sha256=<hex HMAC-SHA-256 over "<timestamp>.<raw body>">
 *   X-Tidemark-Event: alert.opened | alert.resolved | alert.test
 *   X-Tidemark-Delivery: <delivery id> (the same on every retry of one delivery)
 * The HMAC key is the channel's secret exactly as shown when it was created
 * (64 hex characters, used as text). Binding the timestamp stops a captured
 * request from being replayed later: receivers reject stale timestamps.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { httpOutcome, networkOutcome, type Outcome } from "./outcome";

export const SIGNATURE_HEADER = "x-tidemark-signature";
export const TIMESTAMP_HEADER = "x-tidemark-timestamp";

export function signWebhook(secret: string, timestamp: number, rawBody: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest("hex")}`;
}

/**
 * For receivers: true when the signature matches the raw body and the
 * timestamp is within `toleranceSeconds` of now (default 5 minutes).
 */
export function verifyWebhookSignature(opts: {
  secret: string;
  rawBody: string;
  timestamp: string | null | undefined;
  signature: string | null | undefined;
  toleranceSeconds?: number;
  now?: Date;
}): boolean {
  const { secret, rawBody, signature } = opts;
  if (!signature || !opts.timestamp || !/^\d{1,12}$/.test(opts.timestamp)) return false;
  const timestamp = Number(opts.timestamp);
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - timestamp) > (opts.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, rawBody));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function postWebhook(
  url: string,
  secret: string,
  payload: { type: string; deliveryId: string },
  opts: { fetch?: typeof fetch; timeoutMs?: number; now?: Date } = {},
): Promise<Outcome> {
  const doFetch = opts.fetch ?? fetch;
  const rawBody = JSON.stringify(payload);
  const timestamp = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  try {
    const res = await doFetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "Tidemark-Webhook/1",
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: signWebhook(secret, timestamp, rawBody),
        "x-tidemark-event": payload.type,
        "x-tidemark-delivery": payload.deliveryId,
      },
      body: rawBody,
      // Redirects could carry the signed body somewhere the channel did not name.
      redirect: "manual",
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
    const text = await res.text().catch(() => "");
    return httpOutcome(res.status, res.ok ? "" : text);
  } catch (err) {
    return networkOutcome(err);
  }
}
