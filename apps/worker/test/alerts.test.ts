/**
 * The alert jobs on a real worker (pg-boss on PostgreSQL): an agent's
 * heartbeats stop → the monitor opens the offline alert → email reaches the
 * in-process SMTP server, the SMS reaches the Twilio stand-in, the webhook
 * receiver verifies the signature → heartbeats return → the alert resolves
 * itself and "resolved" goes out. MSP B's channels receive nothing of MSP A.
 */
import { randomBytes } from "node:crypto";
import { kekFrom } from "@tidemark/backup";
import { newWebhookSecret, raiseAlert, sealWebhookSecret } from "@tidemark/alerts";
import { kekSecretBox, mailText, type SmtpCapture, startSmtpCapture, startTwilioStandIn, startWebhookReceiver, type TwilioStandIn, type WebhookReceiver } from "@tidemark/alerts/testing";
import { schema } from "@tidemark/db";
import { createTestDatabase, type TestDatabase } from "@tidemark/db/testing";
import { createMailer } from "@tidemark/notify";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALERT_MONITOR_QUEUE, registerAlertJobs } from "../src/jobs/alerts";
import { type RunningWorker, startWorker } from "../src/index";

async function waitFor<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("alert jobs on a real worker", () => {
  let database: TestDatabase;
  let worker: RunningWorker;
  let jobs: { stop(): void };
  let smtp: SmtpCapture;
  let twilio: TwilioStandIn;
  let hookA: WebhookReceiver;
  let hookB: WebhookReceiver;
  const secrets = kekSecretBox(kekFrom(randomBytes(32)));
  const ids = {} as Record<"mspA" | "mspB" | "a1" | "b1" | "machine" | "machineB", string>;

  beforeAll(async () => {
    [database, smtp, twilio, hookA, hookB] = await Promise.all([createTestDatabase(), startSmtpCapture(), startTwilioStandIn(), startWebhookReceiver(), startWebhookReceiver()]);
    const { db } = database;
    const [mspA] = await db.insert(schema.msps).values({ name: "MSP A" }).returning();
    const [mspB] = await db.insert(schema.msps).values({ name: "MSP B" }).returning();
    const [a1] = await db.insert(schema.customers).values({ mspId: mspA!.id, name: "A1 Dental" }).returning();
    const [b1] = await db.insert(schema.customers).values({ mspId: mspB!.id, name: "B1 Bakery" }).returning();
    const [machine] = await db.insert(schema.machines).values({ mspId: mspA!.id, customerId: a1!.id, name: "a1-srv", os: "linux" }).returning();
    const [machineB] = await db.insert(schema.machines).values({ mspId: mspB!.id, customerId: b1!.id, name: "b1-srv", os: "linux" }).returning();
    Object.assign(ids, { mspA: mspA!.id, mspB: mspB!.id, a1: a1!.id, b1: b1!.id, machine: machine!.id, machineB: machineB!.id });
    // Both agents heartbeat now; B's stays healthy throughout.
    for (const m of [machine!, machineB!]) {
      await db.insert(schema.machineAgents).values({ machineId: m.id, mspId: m.mspId, customerId: m.customerId, lastHeartbeatAt: new Date(), status: { pendingChanges: 0 } });
      await db.insert(schema.recoveryPoints).values({ mspId: m.mspId, customerId: m.customerId, machineId: m.id, clientPointId: "p1", manifest: {}, time: new Date(), consistency: "crash" });
    }
    const hook = async (mspId: string, r: WebhookReceiver) => {
      const id = crypto.randomUUID();
      r.secret = newWebhookSecret();
      await db.insert(schema.alertChannels).values({ id, mspId, kind: "webhook", name: "hook", targets: [r.url], minSeverity: "info", secretEncrypted: sealWebhookSecret(secrets, id, r.secret) });
    };
    await hook(mspA!.id, hookA);
    await hook(mspB!.id, hookB);
    await db.insert(schema.alertChannels).values({ mspId: mspA!.id, kind: "email", name: "NOC", targets: ["noc@a.test"] });
    await db.insert(schema.alertChannels).values({ mspId: mspA!.id, customerId: a1!.id, kind: "sms", name: "A1 on-call", targets: ["+15550009999"] });
    await db.insert(schema.alertChannels).values({ mspId: mspB!.id, kind: "email", name: "B NOC", targets: ["noc@b.test"], minSeverity: "info" });

    worker = await startWorker({ database, schema: `pgboss_alerts_${randomBytes(3).toString("hex")}` });
    jobs = await registerAlertJobs(
      worker.boss,
      {
        db: database.db,
        mailer: createMailer({ database, smtpUrl: smtp.url, from: "Tidemark <alerts@tidemark.test>" }),
        publicUrl: "https://portal.tidemark.test",
        secrets,
        sms: twilio.config,
        retry: { baseMs: 500, maxMs: 1000, maxAttempts: 4 },
        pollingIntervalSeconds: 0.5,
      },
      () => {},
    );
  }, 60_000);
  afterAll(async () => {
    jobs?.stop();
    await worker?.stop();
    await Promise.all([smtp?.close(), twilio?.close(), hookA?.close(), hookB?.close()]);
    await database?.drop();
  }, 30_000);

  it("registers the delivery sweep and the monitor every minute", async () => {
    const schedules = await worker.boss.getSchedules();
    expect(schedules.map((s) => [s.name, s.cron])).toEqual(expect.arrayContaining([["alert-delivery", "* * * * *"], ["alert-monitor", "* * * * *"]]));
  });

  it("offline agent → alert on every channel of its MSP only; heartbeats return → resolved by itself", async () => {
    const { db } = database;
    // The webhook endpoint is down for the first attempt: the worker retries on its own.
    hookA.failNext(503, 1);
    await db.update(schema.machineAgents).set({ lastHeartbeatAt: new Date(Date.now() - 45 * 60_000) }).where(eq(schema.machineAgents.machineId, ids.machine));
    const started = Date.now();
    await worker.boss.send(ALERT_MONITOR_QUEUE, {});
    const alert = await waitFor(async () => (await db.select().from(schema.alerts).where(eq(schema.alerts.condition, "agent_offline")))[0]);
    expect(alert).toMatchObject({ mspId: ids.mspA, machineId: ids.machine, severity: "warning", state: "open" });

    const mail = await waitFor(async () => smtp.received.find((m) => m.to.includes("noc@a.test")));
    const text = mailText(mail.raw);
    expect(text).toContain("Agent offline for 45 min: a1-srv");
    expect(text).toContain("A1 Dental");
    expect(text).toContain(`https://portal.tidemark.test/msp/${ids.mspA}/alerts?alert=${alert.id}`);
    const sms = await waitFor(async () => twilio.messages.find((m) => m.to === "+15550009999"));
    expect(sms.body).toContain("a1-srv");
    const hook = await waitFor(async () => hookA.received.find((r) => r.verified && (r.body as { type: string }).type === "alert.opened"));
    expect(hook.body).toMatchObject({ alert: { id: alert.id, machine: { name: "a1-srv" } } });
    // The first request got the 503 (the receiver records it too); the worker's own retry delivered it.
    const hookDelivery = await waitFor(async () => (await db.select().from(schema.alertDeliveries).where(eq(schema.alertDeliveries.lastStatus, 204)))[0]);
    const elapsed = Date.now() - started;
    expect(hookDelivery).toMatchObject({ state: "sent", attempts: 2 });
    expect(hookA.received.length).toBeGreaterThanOrEqual(2);
    expect(elapsed).toBeLessThan(20_000);

    // Heartbeats come back.
    await db.update(schema.machineAgents).set({ lastHeartbeatAt: new Date() }).where(eq(schema.machineAgents.machineId, ids.machine));
    await worker.boss.send(ALERT_MONITOR_QUEUE, {});
    await waitFor(async () => (await db.select().from(schema.alerts).where(eq(schema.alerts.id, alert.id)))[0]?.state === "resolved");
    const resolved = await waitFor(async () => hookA.received.find((r) => r.verified && (r.body as { type: string }).type === "alert.resolved"));
    expect(resolved.body).toMatchObject({ alert: { id: alert.id, resolvedAutomatically: true } });
    await waitFor(async () => smtp.received.some((m) => mailText(m.raw).includes("[RESOLVED]")));

    // MSP B heard nothing of MSP A's alert.
    expect(hookB.received).toEqual([]);
    expect(smtp.received.filter((m) => m.to.includes("noc@b.test"))).toEqual([]);
    expect((await db.select().from(schema.alertDeliveries).where(eq(schema.alertDeliveries.mspId, ids.mspB)))).toEqual([]);
  }, 60_000);

  it("a raised alert is delivered within seconds (in-process kick, no minute wait)", async () => {
    const before = hookA.received.length;
    const started = performance.now();
    await raiseAlert(database.db, { mspId: ids.mspA, customerId: ids.a1, condition: "corruption", severity: "critical", subject: ids.a1, title: "Corruption found", details: { files: ["/srv/a"] } });
    await waitFor(async () => hookA.received.slice(before).find((r) => r.verified && (r.body as { alert: { title: string } }).alert.title === "Corruption found"), 10_000);
    const ms = performance.now() - started;
    console.log(`alert raised → signed webhook received: ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(5_000);
  }, 30_000);
});
