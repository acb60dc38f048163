import { randomBytes } from "node:crypto";
import { kekFrom } from "@tidemark/backup";
import { schema } from "@tidemark/db";
import { createTestDatabase, type TestDatabase } from "@tidemark/db/testing";
import { createMailer } from "@tidemark/notify";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { backoffMs, type DeliveryDeps, deliverDue, newWebhookSecret, raiseAlert, resolveCondition, sealWebhookSecret, sendTestMessage, signWebhook, verifyWebhookSignature } from "../src";
import { kekSecretBox } from "../src/kek";
import { mailText, type SmtpCapture, startSmtpCapture, startTwilioStandIn, startWebhookReceiver, type TwilioStandIn, type WebhookReceiver } from "../src/testing";
import { addChannel, twoMsps } from "./world";

let database: TestDatabase;
let w: Awaited<ReturnType<typeof twoMsps>>;
let smtp: SmtpCapture;
let twilio: TwilioStandIn;
let hookA: WebhookReceiver;
let hookB: WebhookReceiver;
let deps: DeliveryDeps;
const secrets = kekSecretBox(kekFrom(randomBytes(32)));

beforeAll(async () => {
  [database, smtp, twilio, hookA, hookB] = await Promise.all([createTestDatabase(), startSmtpCapture(), startTwilioStandIn(), startWebhookReceiver(), startWebhookReceiver()]);
  w = await twoMsps(database);
  deps = {
    db: database.db,
    mailer: createMailer({ database, smtpUrl: smtp.url, from: "Tidemark <alerts@tidemark.test>" }),
    publicUrl: "https://portal.tidemark.test",
    secrets,
    sms: twilio.config,
    retry: { baseMs: 20, maxMs: 100, maxAttempts: 3 },
    timeoutMs: 2_000,
  };
});
afterAll(async () => {
  await Promise.all([smtp?.close(), twilio?.close(), hookA?.close(), hookB?.close()]);
  await database?.drop();
});
beforeEach(async () => {
  await database.db.delete(schema.alerts);
  await database.db.delete(schema.alertChannels);
  await database.db.delete(schema.alertDeliveries);
  smtp.received.length = 0;
  twilio.messages.length = 0;
  twilio.rejected.length = 0;
  hookA.received.length = 0;
  hookB.received.length = 0;
});

async function webhookChannel(mspId: string, receiver: WebhookReceiver, customerId: string | null = null) {
  const secret = newWebhookSecret();
  const id = crypto.randomUUID();
  const [row] = await database.db
    .insert(schema.alertChannels)
    .values({ id, mspId, customerId, kind: "webhook", name: "hook", targets: [receiver.url], secretEncrypted: sealWebhookSecret(secrets, id, secret), minSeverity: "info" })
    .returning();
  receiver.secret = secret;
  return row!;
}

/** Runs the delivery loop until nothing is pending (retries included), as the worker would. */
async function drain(limit = 20) {
  for (let i = 0; i < limit; i++) {
    await deliverDue(deps);
    const pending = await database.db.select().from(schema.alertDeliveries).where(eq(schema.alertDeliveries.state, "pending"));
    if (pending.length === 0) return;
    await new Promise((r) => setTimeout(r, 60));
  }
  throw new Error("deliveries still pending");
}

const corruption = () => ({
  mspId: w.mspA.id,
  customerId: w.a1.id,
  machineId: w.a1Machine.id,
  condition: "corruption" as const,
  severity: "critical" as const,
  subject: "pack:abc",
  title: "Corrupt data found in storage",
  details: { packs: ["abc"], files: ["/srv/data/ledger.xlsx", "/srv/data/notes <b>.txt"], points: ["2026-11-26T10:00:00Z"] },
});

describe("delivery on every channel", () => {
  it("email (HTML + text with portal links), SMS in Twilio's request shape, and a signed webhook", async () => {
    await addChannel(database, { mspId: w.mspA.id, kind: "email", name: "NOC", targets: ["noc@a.test", "boss@a.test"] });
    await addChannel(database, { mspId: w.mspA.id, kind: "sms", name: "On-call", targets: ["+15550001111"], minSeverity: "critical" });
    await webhookChannel(w.mspA.id, hookA);
    const { alertId } = await raiseAlert(database.db, corruption());
    const run = await deliverDue(deps);
    expect(run).toMatchObject({ attempted: 3, sent: 3, failed: 0, retrying: 0 });

    expect(smtp.received.map((m) => m.to[0]).sort()).toEqual(["boss@a.test", "noc@a.test"]);
    const mail = mailText(smtp.received[0]!.raw);
    expect(mail).toMatch(/^Subject: /m);
    expect(mail).toContain("[CRITICAL] Corrupt data found in storage — A1 Dental / a1-srv");
    expect(mail).toContain("A1 Dental");
    expect(mail).toContain("a1-srv");
    expect(mail).toContain("/srv/data/ledger.xlsx");
    expect(mail).toContain(`https://portal.tidemark.test/msp/${w.mspA.id}/alerts?alert=${alertId}`);
    expect(mail).toContain(`https://portal.tidemark.test/machines/${w.a1Machine.id}`);
    expect(mail).toContain("text/html");
    expect(mail).toContain("notes &#60;b&#62;.txt");

    expect(twilio.rejected).toEqual([]);
    expect(twilio.messages).toHaveLength(1);
    expect(twilio.messages[0]).toMatchObject({ to: "+15550001111", from: twilio.config.from });
    expect(twilio.messages[0]!.body).toContain("Corrupt data found in storage");

    expect(hookA.received).toHaveLength(1);
    const hook = hookA.received[0]!;
    expect(hook.verified).toBe(true);
    expect(hook.headers["x-tidemark-event"]).toBe("alert.opened");
    expect(hook.body).toMatchObject({ type: "alert.opened", alert: { id: alertId, severity: "critical", customer: { name: "A1 Dental" }, machine: { name: "a1-srv" } } });
    expect((hook.body as { text: string }).text).toContain("Corrupt data found in storage");

    const rows = await database.db.select().from(schema.alertDeliveries);
    expect(rows.map((r) => [r.state, r.attempts, r.lastError])).toEqual([
      ["sent", 1, null],
      ["sent", 1, null],
      ["sent", 1, null],
    ]);
    expect(rows.find((r) => r.lastStatus === 201)).toBeDefined();
    expect(rows.find((r) => r.lastStatus === 204)).toBeDefined();
  });

  it("resolved notifications go out when the condition clears", async () => {
    await webhookChannel(w.mspA.id, hookA);
    await raiseAlert(database.db, corruption());
    await resolveCondition(database.db, { mspId: w.mspA.id, condition: "corruption", subject: "pack:abc" });
    await drain();
    expect(hookA.received.map((r) => (r.body as { type: string }).type)).toEqual(["alert.opened", "alert.resolved"]);
    expect(hookA.received[1]!.body).toMatchObject({ alert: { state: "resolved", resolvedAutomatically: true } });
  });

  it("retries 5xx/429 with backoff, recording every attempt, then succeeds", async () => {
    await webhookChannel(w.mspA.id, hookA);
    hookA.failNext(503, 1);
    twilio.failNext(429, 1);
    await addChannel(database, { mspId: w.mspA.id, kind: "sms", name: "On-call", targets: ["+15550001111"] });
    await raiseAlert(database.db, corruption());
    const first = await deliverDue(deps);
    expect(first).toMatchObject({ attempted: 2, retrying: 2 });
    const pending = await database.db.select().from(schema.alertDeliveries);
    expect(pending.map((p) => [p.state, p.attempts, p.lastStatus]).sort()).toEqual([
      ["pending", 1, 429],
      ["pending", 1, 503],
    ]);
    expect(pending.every((p) => p.lastError && p.nextAttemptAt && +p.nextAttemptAt > Date.now() - 1000)).toBe(true);
    await drain();
    const done = await database.db.select().from(schema.alertDeliveries);
    expect(done.map((p) => [p.state, p.attempts, p.lastError])).toEqual([
      ["sent", 2, null],
      ["sent", 2, null],
    ]);
    expect(hookA.received.map((r) => r.headers["x-tidemark-delivery"])).toEqual([done.find((d) => d.lastStatus === 204)!.id, done.find((d) => d.lastStatus === 204)!.id]);
  });

  it("gives up after maxAttempts on a dead endpoint, and does not retry a 4xx", async () => {
    const dead = await addChannel(database, { mspId: w.mspA.id, kind: "webhook", name: "dead", targets: ["http://127.0.0.1:9/hook"], minSeverity: "info" });
    await database.db.update(schema.alertChannels).set({ secretEncrypted: sealWebhookSecret(secrets, dead.id, newWebhookSecret()) }).where(eq(schema.alertChannels.id, dead.id));
    await addChannel(database, { mspId: w.mspA.id, kind: "sms", name: "bad number", targets: ["+0123"] });
    await raiseAlert(database.db, corruption());
    await drain();
    const rows = await database.db.select().from(schema.alertDeliveries);
    const byChannel = Object.fromEntries(rows.map((r) => [r.channelId === dead.id ? "dead" : "sms", r]));
    expect(byChannel.dead).toMatchObject({ state: "failed", attempts: 3 });
    expect(byChannel.dead!.lastError).toMatch(/Network error/);
    expect(byChannel.sms).toMatchObject({ state: "failed", attempts: 1, lastStatus: 400 });
    expect(byChannel.sms!.lastError).toMatch(/not a valid phone number.*21211/);
  });

  it("SMS without Twilio settings fails with a message naming them; a wrong token is refused by the stand-in", async () => {
    await addChannel(database, { mspId: w.mspA.id, kind: "sms", name: "On-call", targets: ["+15550001111"] });
    await raiseAlert(database.db, corruption());
    await deliverDue({ ...deps, sms: null });
    const [row] = await database.db.select().from(schema.alertDeliveries);
    expect(row).toMatchObject({ state: "failed" });
    expect(row!.lastError).toMatch(/TWILIO_ACCOUNT_SID/);

    const ch = await addChannel(database, { mspId: w.mspA.id, kind: "sms", name: "Other", targets: ["+15550002222"] });
    const test = await sendTestMessage({ ...deps, sms: { ...twilio.config, authToken: "wrong" } }, { mspId: w.mspA.id }, ch.id);
    expect(test).toMatchObject({ state: "failed", lastStatus: 401, event: "test", attempts: 1 });
    expect(twilio.rejected).toEqual([{ status: 401, reason: "Authenticate" }]);
    expect(twilio.messages).toEqual([]);
  });

  it("send test: records a 'test' delivery with the outcome; another MSP's channel is not found", async () => {
    const ch = await webhookChannel(w.mspA.id, hookA, w.a1.id);
    const d = await sendTestMessage(deps, { mspId: w.mspA.id }, ch.id);
    expect(d).toMatchObject({ event: "test", state: "sent", attempts: 1, alertId: null, lastStatus: 204 });
    expect(hookA.received[0]!.verified).toBe(true);
    expect(hookA.received[0]!.body).toMatchObject({ type: "alert.test", alert: { customer: { name: "A1 Dental" } } });
    await expect(sendTestMessage(deps, { mspId: w.mspB.id }, ch.id)).rejects.toThrow(/not found/);
    await expect(sendTestMessage(deps, { mspId: w.mspA.id, customerId: w.a2.id }, ch.id)).rejects.toThrow(/not found/);
    expect(hookA.received).toHaveLength(1);
    // Rate-limited per channel: 5 a minute.
    for (let i = 0; i < 4; i++) expect((await sendTestMessage(deps, { mspId: w.mspA.id }, ch.id)).state).toBe("sent");
    await expect(sendTestMessage(deps, { mspId: w.mspA.id }, ch.id)).rejects.toThrow(/At most 5 test messages per channel per minute/);
    expect(hookA.received).toHaveLength(5);
  });

  it("two MSPs: each MSP's receiver gets only its own alerts", async () => {
    await webhookChannel(w.mspA.id, hookA);
    await webhookChannel(w.mspB.id, hookB);
    await raiseAlert(database.db, corruption());
    await raiseAlert(database.db, { ...corruption(), mspId: w.mspB.id, customerId: w.b1.id, machineId: w.b1Machine.id, title: "B corruption" });
    await drain();
    expect(hookA.received.map((r) => (r.body as { alert: { mspId: string; title: string } }).alert)).toEqual([expect.objectContaining({ mspId: w.mspA.id, title: "Corrupt data found in storage" })]);
    expect(hookB.received.map((r) => (r.body as { alert: { mspId: string; title: string } }).alert)).toEqual([expect.objectContaining({ mspId: w.mspB.id, title: "B corruption" })]);
    expect([...hookA.received, ...hookB.received].every((r) => r.verified)).toBe(true);
  });
});

describe("signature scheme and backoff", () => {
  it("verifies only the exact body, secret and a fresh timestamp", () => {
    const secret = newWebhookSecret();
    const ts = Math.floor(Date.now() / 1000);
    const body = '{"a":1}';
    const sig = signWebhook(secret, ts, body);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature({ secret, rawBody: body, timestamp: String(ts), signature: sig })).toBe(true);
    expect(verifyWebhookSignature({ secret, rawBody: '{"a":2}', timestamp: String(ts), signature: sig })).toBe(false);
    expect(verifyWebhookSignature({ secret: newWebhookSecret(), rawBody: body, timestamp: String(ts), signature: sig })).toBe(false);
    expect(verifyWebhookSignature({ secret, rawBody: body, timestamp: String(ts + 1), signature: sig })).toBe(false);
    expect(verifyWebhookSignature({ secret, rawBody: body, timestamp: String(ts), signature: sig, now: new Date((ts + 600) * 1000) })).toBe(false);
    expect(verifyWebhookSignature({ secret, rawBody: body, timestamp: null, signature: sig })).toBe(false);
    expect(verifyWebhookSignature({ secret, rawBody: body, timestamp: String(ts), signature: "sha256=00" })).toBe(false);
  });

  it("backoff grows exponentially, is jittered within [ceiling/2, ceiling], and is capped", () => {
    const p = { baseMs: 1000, maxMs: 10_000, maxAttempts: 8 };
    expect(backoffMs(1, p, () => 0)).toBe(500);
    expect(backoffMs(1, p, () => 1)).toBe(1000);
    expect(backoffMs(3, p, () => 1)).toBe(4000);
    expect(backoffMs(10, p, () => 1)).toBe(10_000);
    const samples = Array.from({ length: 50 }, () => backoffMs(2, p));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...samples)).toBeLessThanOrEqual(2000);
    expect(new Set(samples).size).toBeGreaterThan(1);
  });

  it("a sealed secret opens only for its own channel", () => {
    const secret = newWebhookSecret();
    const sealed = sealWebhookSecret(secrets, "channel-1", secret);
    expect(sealed).not.toContain(secret);
    expect(() => sealWebhookSecret(secrets, "c", "short")).toThrow(/64 lowercase hex/);
    expect(() => secrets.unwrap("alert-channel:channel-2", sealed)).toThrow(/does not unwrap/);
  });
});

describe("concurrency and channel changes", () => {
  it("two workers draining at once send every delivery exactly once", async () => {
    await webhookChannel(w.mspA.id, hookA);
    for (let i = 0; i < 12; i++) await raiseAlert(database.db, { ...corruption(), subject: `pack:${i}`, title: `c${i}` });
    const runs = await Promise.all([deliverDue({ ...deps }, { limit: 5 }), deliverDue({ ...deps }, { limit: 5 }), deliverDue({ ...deps }, { limit: 5 })]);
    await drain();
    expect(runs.reduce((n, r) => n + r.attempted, 0)).toBeLessThanOrEqual(12);
    const titles = hookA.received.map((r) => (r.body as { alert: { title: string } }).alert.title).sort();
    expect(titles).toEqual(Array.from({ length: 12 }, (_, i) => `c${i}`).sort());
    const rows = await database.db.select().from(schema.alertDeliveries);
    expect(rows.every((r) => r.state === "sent" && r.attempts === 1)).toBe(true);
  });

  it("a channel disabled after the alert was queued does not send; the log says why", async () => {
    const ch = await webhookChannel(w.mspA.id, hookA);
    await raiseAlert(database.db, corruption());
    await database.db.update(schema.alertChannels).set({ enabled: false }).where(eq(schema.alertChannels.id, ch.id));
    await deliverDue(deps);
    const [row] = await database.db.select().from(schema.alertDeliveries);
    expect(row).toMatchObject({ state: "failed", lastError: "The channel was disabled before this message went out" });
    expect(hookA.received).toEqual([]);
  });
});

describe("email refusals", () => {
  it("a refused address fails the delivery at once (no resend to the addresses that got it); an SMTP outage is retried", async () => {
    await addChannel(database, { mspId: w.mspA.id, kind: "email", name: "NOC", targets: ["ok@a.test", "typo@refused.example"] });
    await raiseAlert(database.db, corruption());
    await drain();
    const [row] = await database.db.select().from(schema.alertDeliveries);
    expect(row).toMatchObject({ state: "failed", attempts: 1 });
    expect(row!.lastError).toMatch(/typo@refused\.example.*550|550.*typo@refused|typo@refused\.example/);
    expect(smtp.received.map((m) => m.to)).toEqual([["ok@a.test"]]);

    await database.db.delete(schema.alerts);
    await database.db.delete(schema.alertDeliveries);
    await raiseAlert(database.db, corruption());
    const down = { ...deps, mailer: createMailer({ database, smtpUrl: "smtp://127.0.0.1:9", from: "alerts@tidemark.test" }) };
    const run = await deliverDue(down);
    expect(run).toMatchObject({ attempted: 1, retrying: 1 });
  });
});

describe("webhook targets", () => {
  it("never calls link-local (cloud metadata) addresses; loopback and private networks are allowed", async () => {
    const { isLinkLocal, postWebhook } = await import("../src/channels/webhook");
    expect(["169.254.169.254", "0.0.0.0", "fe80::1", "::ffff:169.254.169.254", "::"].map(isLinkLocal)).toEqual([true, true, true, true, true]);
    expect(["127.0.0.1", "10.0.0.5", "192.168.1.2", "::1", "8.8.8.8", "example.com"].map(isLinkLocal)).toEqual([false, false, false, false, false, false]);
    const out = await postWebhook("http://169.254.169.254/metadata/instance", "s", { type: "alert.test", deliveryId: "d" }, { timeoutMs: 500 });
    expect(out).toEqual({ ok: false, error: "Refused: 169.254.169.254 is a link-local address (cloud metadata), not a webhook receiver", retryable: false });
    const mapped = await postWebhook("http://[::ffff:169.254.169.254]/x", "s", { type: "alert.test", deliveryId: "d" }, { timeoutMs: 500 });
    expect(mapped).toMatchObject({ ok: false, retryable: false });
    expect(!mapped.ok && mapped.error).toMatch(/link-local/);
    const v6 = await postWebhook("http://[fe80::1]/x", "s", { type: "alert.test", deliveryId: "d" }, { timeoutMs: 500 });
    expect(v6.ok).toBe(false);
    expect(!v6.ok && v6.retryable).toBe(false);
  });
});
