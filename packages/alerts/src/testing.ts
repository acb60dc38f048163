/**
 * Local stand-ins for the outside world of alerts, for this package's tests
 * and any other package's (e.g. the verification end-to-end test):
 * - a Twilio stand-in that checks EXACTLY the Messages REST request shape the
 *   real API expects (path, basic auth, form-encoded To/From/Body) and records
 *   what was sent — no Twilio account is involved in any test;
 * - a webhook receiver that verifies the Tidemark signature;
 * - an in-process SMTP server that keeps every message it receives.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from "./channels/webhook";
import type { SmsConfig } from "./channels/sms";

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

export type SmsRecord = { sid: string; accountSid: string; to: string; from: string; body: string; at: Date };

export type TwilioStandIn = {
  /** Pass as the SMS config (or TWILIO_BASE_URL + credentials). */
  config: SmsConfig;
  url: string;
  messages: SmsRecord[];
  /** Requests refused for their shape, with the reason: a test can assert none happened. */
  rejected: { status: number; reason: string }[];
  /** The next `times` valid requests get this HTTP status (e.g. 503, 429) instead of being accepted. */
  failNext(status: number, times?: number): void;
  close(): Promise<void>;
};

/**
 * Speaks Twilio's Messages API request shape: POST
 * /2010-04-01/Accounts/{AccountSid}/Messages.json, Authorization Basic
 * AccountSid:AuthToken, application/x-www-form-urlencoded with To (E.164),
 * From and Body (1..1600 characters). Answers 201 with a Twilio-like message
 * resource, or Twilio-like JSON errors (401 20003, 400 21211/21602/21603, 404).
 */
export async function startTwilioStandIn(opts: { accountSid?: string; authToken?: string; from?: string } = {}): Promise<TwilioStandIn> {
  const accountSid = opts.accountSid ?? `AC${randomBytes(16).toString("hex")}`;
  const authToken = opts.authToken ?? randomBytes(16).toString("hex");
  const from = opts.from ?? "+15005550006";
  const messages: SmsRecord[] = [];
  const rejected: { status: number; reason: string }[] = [];
  let failures: { status: number; times: number } | null = null;

  const server = createServer(async (req, res) => {
    const reply = (status: number, body: Record<string, unknown>) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const refuse = (status: number, code: number, message: string) => {
      rejected.push({ status, reason: message });
      reply(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
    };
    const body = await readBody(req);
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const m = path.match(/^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/);
    if (req.method !== "POST" || !m) return refuse(404, 20404, `The requested resource ${path} was not found`);
    const auth = req.headers.authorization ?? "";
    const [user, pass] = auth.startsWith("Basic ") ? Buffer.from(auth.slice(6), "base64").toString("utf8").split(":") : [];
    if (user !== accountSid || pass !== authToken || decodeURIComponent(m[1]!) !== accountSid) return refuse(401, 20003, "Authenticate");
    if (!(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) return refuse(400, 20001, "Content-Type must be application/x-www-form-urlencoded");
    const form = new URLSearchParams(body);
    const to = form.get("To") ?? "";
    const sender = form.get("From") ?? "";
    const text = form.get("Body") ?? "";
    if (!/^\+[1-9]\d{6,14}$/.test(to)) return refuse(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (!sender) return refuse(400, 21603, "A 'From' phone number is required.");
    if (text.length === 0) return refuse(400, 21602, "Message body is required.");
    if (text.length > 1600) return refuse(400, 21617, "The concatenated message body exceeds the 1600 character limit.");
    if (failures && failures.times > 0) {
      failures.times--;
      return reply(failures.status, { code: 20500, message: "Stand-in failure on request", status: failures.status });
    }
    const sid = `SM${randomBytes(16).toString("hex")}`;
    messages.push({ sid, accountSid, to, from: sender, body: text, at: new Date() });
    reply(201, { sid, account_sid: accountSid, to, from: sender, body: text, status: "queued", num_segments: String(Math.ceil(text.length / 153)) });
  });
  const url = await listen(server);
  return {
    config: { accountSid, authToken, from, baseUrl: url },
    url,
    messages,
    rejected,
    failNext(status, times = 1) {
      failures = { status, times };
    },
    close: () => closeServer(server),
  };
}

export type ReceivedWebhook = { path: string; headers: Record<string, string | string[] | undefined>; rawBody: string; body: unknown; verified: boolean; at: Date };

export type WebhookReceiver = {
  url: string;
  received: ReceivedWebhook[];
  /** The secret the receiver verifies with; set it after creating the channel. */
  secret: string | null;
  failNext(status: number, times?: number): void;
  close(): Promise<void>;
};

/** A receiver like a customer's would be: verifies the signature with the shared secret and answers 401 when it does not match. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let failures: { status: number; times: number } | null = null;
  const state: WebhookReceiver = {
    url: "",
    received,
    secret: null,
    failNext(status, times = 1) {
      failures = { status, times };
    },
    close: () => closeServer(server),
  };
  const server = createServer(async (req, res) => {
    const rawBody = await readBody(req);
    const verified =
      state.secret !== null &&
      verifyWebhookSignature({ secret: state.secret, rawBody, timestamp: req.headers[TIMESTAMP_HEADER] as string | undefined, signature: req.headers[SIGNATURE_HEADER] as string | undefined });
    let body: unknown = null;
    try {
      body = JSON.parse(rawBody);
    } catch {}
    received.push({ path: req.url ?? "/", headers: req.headers, rawBody, body, verified, at: new Date() });
    if (failures && failures.times > 0) {
      failures.times--;
      res.writeHead(failures.status).end("try later");
      return;
    }
    res.writeHead(verified ? 204 : 401).end(verified ? undefined : "bad signature");
  });
  state.url = `${await listen(server)}/hooks/tidemark`;
  return state;
}

export type ReceivedMail = { from: string; to: string[]; raw: string; at: Date };
export type SmtpCapture = { url: string; received: ReceivedMail[]; close(): Promise<void> };

/** An SMTP server on 127.0.0.1:<random>; addresses at @refused.example are refused at RCPT. */
export async function startSmtpCapture(): Promise<SmtpCapture> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onRcptTo(address, _session, cb) {
      if (address.address.endsWith("@refused.example")) return cb(new Error("mailbox unavailable"));
      cb();
    },
    onData(stream, session, cb) {
      const parts: Buffer[] = [];
      stream.on("data", (c: Buffer) => parts.push(c));
      stream.on("end", () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(parts).toString("utf8"),
          at: new Date(),
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A SecretBox over a throwaway key, for tests that do not need the real KEK path. */
export { kekSecretBox } from "./kek";

/** The readable text of a raw message: soft line breaks joined and quoted-printable escapes decoded (enough for assertions). */
export function mailText(raw: string): string {
  return raw
    .replace(/=\r?\n/g, "")
    .replace(/(?:=[0-9A-F]{2})+/g, (m) => Buffer.from(m.replace(/=/g, ""), "hex").toString("utf8"));
}
