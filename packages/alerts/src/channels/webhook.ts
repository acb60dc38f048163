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
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
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

/**
 * Link-local addresses (169.254.0.0/16, fe80::/10) are where cloud instance
 * metadata lives (Azure IMDS 169.254.169.254): a webhook URL must never make
 * the service call them. Loopback and private networks stay allowed: MSPs
 * post to PSA/RMM tools on their own networks, and self-hosted installs to
 * localhost. (A hostname re-resolving between this check and the request is
 * not covered; the metadata endpoint also requires a header we never send.)
 */
export function isLinkLocal(address: string): boolean {
  const v = isIP(address);
  if (v === 4) return address.startsWith("169.254.") || address === "0.0.0.0";
  if (v === 6) {
    const a = address.toLowerCase();
    const mapped = a.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
    if (mapped) return isLinkLocal(mapped[1]!);
    // URL parsing normalises ::ffff:169.254.169.254 to ::ffff:a9fe:a9fe.
    const hex = a.match(/^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/);
    if (hex) {
      const hi = Number.parseInt(hex[1]!, 16);
      return isLinkLocal(`${hi >> 8}.${hi & 255}.${Number.parseInt(hex[2]!, 16) >> 8}.${Number.parseInt(hex[2]!, 16) & 255}`);
    }
    return /^fe[89ab][0-9a-f]:/.test(a) || a === "::";
  }
  return false;
}

async function refusedTarget(url: string): Promise<string | null> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  return addresses.some(isLinkLocal) ? `Refused: ${host} is a link-local address (cloud metadata), not a webhook receiver` : null;
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
    const refused = await refusedTarget(url);
    if (refused) return { ok: false, error: refused, retryable: false };
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
