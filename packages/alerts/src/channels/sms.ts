/**
 * SMS through Twilio's Messages REST API:
 * POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded
 * To/From/Body, HTTP basic auth AccountSid:AuthToken. The base URL is
 * configurable so tests (and regional Twilio edges) can point elsewhere.
 */
import { env } from "@tidemark/config";
import { httpOutcome, networkOutcome, type Outcome } from "./outcome";

export type SmsConfig = { accountSid: string; authToken: string; from: string; baseUrl: string };

export const e164 = /^\+[1-9]\d{6,14}$/;

/** Null when Twilio is not configured: SMS channels then fail with a message naming the settings. */
export function smsConfigFromEnv(): SmsConfig | null {
  const e = env();
  if (!e.TWILIO_ACCOUNT_SID || !e.TWILIO_AUTH_TOKEN || !e.TWILIO_FROM) return null;
  return { accountSid: e.TWILIO_ACCOUNT_SID, authToken: e.TWILIO_AUTH_TOKEN, from: e.TWILIO_FROM, baseUrl: e.TWILIO_BASE_URL };
}

export const SMS_NOT_CONFIGURED = "SMS is not configured on this server (set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM)";

export function twilioMessagesUrl(config: SmsConfig): string {
  return `${config.baseUrl.replace(/\/+$/, "")}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`;
}

export async function sendSms(config: SmsConfig, to: string, body: string, opts: { fetch?: typeof fetch; timeoutMs?: number } = {}): Promise<Outcome> {
  const doFetch = opts.fetch ?? fetch;
  try {
    const res = await doFetch(twilioMessagesUrl(config), {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${config.accountSid}:${config.authToken}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: new URLSearchParams({ To: to, From: config.from, Body: body }).toString(),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
    const text = await res.text();
    // Twilio's error body is JSON with a human message; keep that, not the whole document.
    let detail = text;
    try {
      const j = JSON.parse(text) as { message?: string; code?: number };
      if (j.message) detail = `${j.message}${j.code ? ` (Twilio ${j.code})` : ""}`;
    } catch {}
    return httpOutcome(res.status, res.ok ? "" : detail);
  } catch (err) {
    return networkOutcome(err);
  }
}
