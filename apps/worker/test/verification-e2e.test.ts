/**
 * Issue 5 end to end on real components: PostgreSQL, Azurite, the real agent
 * API routes, the real worker (pg-boss) running verify-pack and the
 * verification jobs, @tidemark/alerts delivering to an in-process SMTP
 * server, a signature-verifying webhook receiver and the Twilio stand-in.
 *
 * A byte flipped in a pack in Azurite → "verify now" → the scrub finds it →
 * email, webhook and SMS name the customer, machine, file and recovery point
 * → a restore test of the damaged point fails and alerts → the agent's next
 * cycle (its engine distrusts the heal ids from the heartbeat and uploads the
 * chunk again through the real pack route) → verify-pack heals it → both
 * alerts resolve themselves.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deliverDue, type DeliveryDeps, newWebhookSecret, sealWebhookSecret, setDeliveryKick } from "@tidemark/alerts";
import { kekSecretBox, mailText, type SmtpCapture, startSmtpCapture, startTwilioStandIn, startWebhookReceiver, type TwilioStandIn, type WebhookReceiver } from "@tidemark/alerts/testing";
import { packVerifier, PointFiles, requestVerification, type CustomerRepo, openCustomerRepo } from "@tidemark/backup";
import { protectFolder } from "@tidemark/backup/testing";
import { schema } from "@tidemark/db";
import { backup, Repository } from "@tidemark/engine";
import { createMailer } from "@tidemark/notify";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createWorld, enroll, type Enrolled, heartbeatBody, type World } from "../../../packages/backup/test/fixtures";
import { enqueuePackVerification, registerPackVerification, type RunningWorker, startWorker } from "../src/index";
import { alertSink, registerVerification, type VerificationWorker } from "../src/verification";

let w: World;
let m: Enrolled;
let worker: RunningWorker;
let verification: VerificationWorker;
let smtp: SmtpCapture;
let twilio: TwilioStandIn;
let hook: WebhookReceiver;
let src: string;
let scratch: string;
let pointId: string;
let repo: CustomerRepo;
let badChunk = "";
const logs: string[] = [];
const scope = () => ({ mspId: w.mspId, customerId: w.a1 });
const rel = (p: string) => join(src, "data", p).slice(1);

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 45_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${logs.slice(-20).join("\n")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function alertRow(condition: "corruption" | "restore_test_failed") {
  const [row] = await w.database.db
    .select()
    .from(schema.alerts)
    .where(and(eq(schema.alerts.mspId, w.mspId), eq(schema.alerts.condition, condition)))
    .orderBy(sql`${schema.alerts.openedAt} desc`)
    .limit(1);
  return row;
}

beforeAll(async () => {
  [w, smtp, twilio, hook] = await Promise.all([createWorld(), startSmtpCapture(), startTwilioStandIn(), startWebhookReceiver()]);
  src = await mkdtemp(join(tmpdir(), "tm-e2e-src-"));
  scratch = await mkdtemp(join(tmpdir(), "tm-e2e-scratch-"));
  await mkdir(join(src, "data", "docs"), { recursive: true });
  await writeFile(join(src, "data", "ledger.xlsx"), randomBytes(400_000));
  await writeFile(join(src, "data", "docs", "notes.txt"), "minutes of the board\n".repeat(3000));
  m = await enroll(w, w.a1, "FILESRV-01");
  pointId = (await protectFolder({ db: w.database.db, kek: w.svc.kek, blobs: w.svc.blobs, scope: scope(), machineId: m.machineId, paths: [join(src, "data")] })).pointId;
  repo = (await openCustomerRepo({ ...w.svc, alerts: alertSink(w.database.db) }, scope()))!;

  // The MSP's alert routes: email, SMS and a signed webhook.
  const { db } = w.database;
  const secrets = kekSecretBox(w.svc.kek);
  const hookId = crypto.randomUUID();
  hook.secret = newWebhookSecret();
  await db.insert(schema.alertChannels).values([
    { mspId: w.mspId, kind: "email", name: "NOC mail", targets: ["noc@harbor-it.test"], minSeverity: "warning" },
    { mspId: w.mspId, kind: "sms", name: "On call", targets: ["+15550001111"], minSeverity: "critical" },
    { id: hookId, mspId: w.mspId, kind: "webhook", name: "PSA", targets: [hook.url], minSeverity: "info", secretEncrypted: sealWebhookSecret(secrets, hookId, hook.secret) },
  ]);
  const deps: DeliveryDeps = {
    db,
    mailer: createMailer({ database: w.database, smtpUrl: smtp.url, from: "Tidemark <alerts@tidemark.test>" }),
    publicUrl: "https://portal.tidemark.test",
    secrets,
    sms: twilio.config,
    retry: { baseMs: 50, maxMs: 200, maxAttempts: 3 },
    timeoutMs: 5_000,
  };
  // What the worker's alert jobs do on a kick; here the delivery runs in-process right away.
  // A kick from inside a transaction asks for a short delay (the rows are visible only after the commit).
  setDeliveryKick(({ delaySeconds }) => {
    setTimeout(() => void deliverDue(deps).catch((e: unknown) => logs.push(`deliver: ${String(e)}`)), delaySeconds * 1000);
  });

  const log = (line: string) => logs.push(line);
  worker = await startWorker({ database: w.database, log });
  const alerts = alertSink(db);
  await registerPackVerification(worker.boss, packVerifier(w.svc, { alerts }), log);
  // The portal's agent API does this after every pack report.
  w.svc.onPackIndexed = (p) => enqueuePackVerification(worker.boss, p);
  verification = await registerVerification(worker.boss, { services: { ...w.svc, alerts, log }, scratchRoot: scratch, requestPollMs: 250 }, log);
}, 180_000);

afterAll(async () => {
  setDeliveryKick(null);
  verification?.stop();
  await worker?.stop();
  await Promise.all([smtp?.close(), twilio?.close(), hook?.close()]);
  await w?.stop();
  for (const d of [src, scratch]) if (d) await rm(d, { recursive: true, force: true });
});

describe("verification end to end", { timeout: 120_000 }, () => {
  it("a byte flipped in a pack in Azurite: verify now finds it and email, webhook and SMS name the customer, machine, file and point", async () => {
    const files = new PointFiles(w.database.db, repo.store, repo.keys, scope());
    const [point] = await w.database.db.select().from(schema.recoveryPoints).where(eq(schema.recoveryPoints.id, pointId));
    const { node } = await files.locate((point!.manifest as { rootTree: string }).rootTree, rel("ledger.xlsx"));
    badChunk = node!.content!.at(-1)!;
    const [entry] = await w.database.db
      .select()
      .from(schema.chunkIndex)
      .where(and(eq(schema.chunkIndex.customerId, w.a1), sql`${schema.chunkIndex.chunkId} = decode(${badChunk}, 'hex')`));
    const key = `data/${entry!.packId.slice(0, 2)}/${entry!.packId}`;
    const bytes = await repo.store.get(key);
    bytes[entry!.offset + 100] = bytes[entry!.offset + 100]! ^ 0x01;
    await repo.store.put(key, bytes);

    const injected = Date.now();
    const { request } = await requestVerification(w.database.db, scope(), { kind: "scrub" });
    await until("email, webhook and SMS", async () => smtp.received.length > 0 && hook.received.length > 0 && twilio.messages.length > 0);
    logs.push(`corruption → all three channels delivered in ${Date.now() - injected} ms`);

    const mail = mailText(smtp.received[0]!.raw);
    expect(smtp.received[0]!.to).toEqual(["noc@harbor-it.test"]);
    // The recovery point is named by its machine and time (the webhook payload carries its id).
    for (const s of ["Dental A1", "FILESRV-01", rel("ledger.xlsx"), point!.time.toISOString()]) expect(mail).toContain(s);
    const delivered = hook.received[0]!;
    expect(delivered.verified).toBe(true);
    expect(JSON.stringify(delivered.body)).toContain(rel("ledger.xlsx"));
    expect(JSON.stringify(delivered.body)).toContain(pointId);
    expect(JSON.stringify(delivered.body)).toMatch(/corruption/);
    expect(twilio.rejected).toEqual([]);
    expect(twilio.messages[0]).toMatchObject({ to: "+15550001111" });
    expect(twilio.messages[0]!.body).toContain("Dental A1");

    const [done] = await w.database.db.select().from(schema.verificationRequests).where(eq(schema.verificationRequests.id, request.id));
    expect(done).toMatchObject({ state: "done", result: expect.objectContaining({ badChunks: 1, damagedPoints: 1 }) });
    expect((await alertRow("corruption"))!.state).toBe("open");
    const [p] = await w.database.db.select().from(schema.recoveryPoints).where(eq(schema.recoveryPoints.id, pointId));
    expect(p!.health).toBe("damaged");
    expect(p!.damage!.files).toEqual([rel("ledger.xlsx")]);
  });

  it("a restore test of the damaged point fails and raises its own alert", async () => {
    const mailsBefore = smtp.received.length;
    await requestVerification(w.database.db, scope(), { kind: "restore_test", machineId: m.machineId });
    const test = await until("the restore test", async () => {
      const [t] = await w.database.db.select().from(schema.restoreTests).where(eq(schema.restoreTests.machineId, m.machineId));
      return t && t.state !== "running" ? t : null;
    });
    expect(test.state).toBe("failed");
    expect(test.findings.map((f) => f.path)).toContain(rel("ledger.xlsx"));
    expect(test.files).toBe(1);
    const alert = await until("the restore_test_failed alert", () => alertRow("restore_test_failed"));
    expect(alert).toMatchObject({ state: "open", severity: "critical", machineId: m.machineId });
    await until("its email", async () => smtp.received.slice(mailsBefore).some((r) => mailText(r.raw).includes("Restore test failed")));
  });

  it("the agent's next cycle uploads the chunk again; verify-pack heals it and both alerts resolve themselves", async () => {
    // Heartbeat: the server asks every machine of the customer for the bad chunk.
    const hb = await call(w, "heartbeat", { credential: m.credential, body: heartbeatBody });
    expect(hb.body.healChunkIds).toEqual([badChunk]);
    // chunks/missing names it too: that is what makes the agent's upload queue send it.
    const missing = await call(w, "chunksMissing", { credential: m.credential, body: { ids: [badChunk] } });
    expect(missing.body.missing).toEqual([badChunk]);

    // The agent's engine: distrust the heal ids, back up again (re-reads and re-uploads the chunk), report the new packs.
    const engine = await Repository.open(repo.store, { kek: w.svc.kek.key });
    engine.index.distrust(hb.body.healChunkIds);
    const before = new Set([...engine.index.packs()].map((p) => p.id));
    await backup(engine, { paths: [join(src, "data")], workers: 0, host: "filesrv-01", parent: "auto" });
    const reports = new Map<string, { packId: string; size: number; salt: string; entries: Array<{ id: string; type: number; offset: number; length: number; rawLength: number }> }>();
    for (const info of engine.index.packs()) {
      if (!before.has(info.id)) reports.set(info.id, { packId: info.id, size: info.size, salt: info.salt.toString("base64"), entries: [] });
    }
    for (const [id, e] of engine.index.entries()) reports.get(e.pack)?.entries.push({ id, type: e.type, offset: e.offset, length: e.length, rawLength: e.rawLength });
    await engine.close();
    expect([...reports.values()].some((r) => r.entries.some((e) => e.id === badChunk))).toBe(true);
    const mailsBefore = smtp.received.length;
    for (const body of reports.values()) {
      const r = await call(w, "packs", { credential: m.credential, body });
      expect(r.status).toBeLessThan(300);
    }

    const resolved = await until("the corruption alert to resolve itself", async () => {
      const a = await alertRow("corruption");
      return a?.state === "resolved" ? a : null;
    });
    expect(resolved.resolvedBy).toBeNull();
    const [p] = await w.database.db.select().from(schema.recoveryPoints).where(eq(schema.recoveryPoints.id, pointId));
    expect(p!.health).toBe("healed");
    expect(p!.damage!.healedAt).toBeTruthy();
    const [bad] = await w.database.db.select().from(schema.badChunks).where(eq(schema.badChunks.customerId, w.a1));
    expect(bad!.healedAt).toBeTruthy();
    expect((await call(w, "heartbeat", { credential: m.credential, body: heartbeatBody })).body.healChunkIds).toEqual([]);
    await until("the resolved email", async () => smtp.received.slice(mailsBefore).some((r) => /resolved/i.test(mailText(r.raw))));

    // The point restores whole again: the next restore test passes and clears its alert.
    await requestVerification(w.database.db, scope(), { kind: "restore_test", machineId: m.machineId, recoveryPointId: pointId });
    const passed = await until("a passing restore test", async () => {
      const rows = await w.database.db.select().from(schema.restoreTests).where(and(eq(schema.restoreTests.machineId, m.machineId), eq(schema.restoreTests.state, "passed")));
      return rows[0];
    });
    expect(passed).toMatchObject({ files: 2, findings: [] });
    await until("the restore_test_failed alert to resolve", async () => (await alertRow("restore_test_failed"))?.state === "resolved");
  });
});
