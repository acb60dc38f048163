/** The embedded default runs on PGlite: the on-conflict raise, skip-locked claims and the monitors must work there too. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { kekFrom } from "@tidemark/backup";
import { type Database, openDatabase, schema } from "@tidemark/db";
import { createMailer } from "@tidemark/notify";
import { afterAll, beforeAll, expect, it } from "vitest";
import { countAlerts, deliverDue, getAlert, listAlerts, listChannels, listDeliveries, newWebhookSecret, raiseAlert, resolveCondition, runMonitors, sealWebhookSecret } from "../src";
import { kekSecretBox } from "../src/kek";
import { startWebhookReceiver, type WebhookReceiver } from "../src/testing";
import { twoMsps } from "./world";

let dir: string;
let database: Database;
let hook: WebhookReceiver;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tidemark-alerts-pglite-"));
  [database, hook] = await Promise.all([openDatabase({ pgliteDir: dir }), startWebhookReceiver()]);
});
afterAll(async () => {
  await database?.close();
  await hook?.close();
  rmSync(dir, { recursive: true, force: true });
});

it("raise (twice), deliver a signed webhook, monitor and resolve on PGlite", async () => {
  const w = await twoMsps(database);
  const secrets = kekSecretBox(kekFrom(randomBytes(32)));
  const id = crypto.randomUUID();
  hook.secret = newWebhookSecret();
  await database.db.insert(schema.alertChannels).values({ id, mspId: w.mspA.id, kind: "webhook", name: "hook", targets: [hook.url], minSeverity: "info", secretEncrypted: sealWebhookSecret(secrets, id, hook.secret) });
  const first = await raiseAlert(database.db, { mspId: w.mspA.id, customerId: w.a1.id, condition: "corruption", severity: "warning", subject: w.a1.id, title: "corrupt", details: {} });
  const again = await raiseAlert(database.db, { mspId: w.mspA.id, customerId: w.a1.id, condition: "corruption", severity: "warning", subject: w.a1.id, title: "corrupt", details: {} });
  expect(first.opened).toBe(true);
  expect(again).toEqual({ alertId: first.alertId, opened: false, escalated: false });
  const run = await deliverDue({ db: database.db, mailer: createMailer({ database, from: "a@t.test" }), publicUrl: "http://localhost:3000", secrets, sms: null });
  expect(run).toMatchObject({ attempted: 1, sent: 1 });
  expect(hook.received[0]!.verified).toBe(true);
  expect((await listChannels(database.db, { mspId: w.mspA.id }))[0]!.lastDelivery).toMatchObject({ state: "sent" });
  await database.db.insert(schema.machineAgents).values({ machineId: w.a1Machine.id, mspId: w.mspA.id, customerId: w.a1.id, lastHeartbeatAt: new Date(Date.now() - 3600_000) });
  const mon = await runMonitors(database.db);
  // Offline; not RPO missed yet: the machine was enrolled just now.
  expect(mon.opened).toBe(1);
  expect(await resolveCondition(database.db, { mspId: w.mspA.id, condition: "corruption", subject: w.a1.id })).toBe(true);
  // The portal's reads on PGlite.
  const list = await listAlerts(database.db, { mspId: w.mspA.id }, { cursor: 0, limit: 10 });
  expect(list.alerts.map((a) => [a.condition, a.state]).sort()).toEqual([["agent_offline", "open"], ["corruption", "resolved"]]);
  expect(list.counts).toEqual({ open: 1, acknowledged: 0, critical: 0, warning: 1, info: 0 });
  expect(await countAlerts(database.db, { mspId: w.mspA.id, customerId: w.a1.id })).toMatchObject({ open: 1 });
  expect((await getAlert(database.db, { mspId: w.mspA.id }, first.alertId)).resolvedAutomatically).toBe(true);
  const log = await listDeliveries(database.db, { mspId: w.mspA.id }, { alertId: first.alertId, cursor: 0, limit: 10 });
  expect(log.deliveries.map((d) => [d.event, d.state]).sort()).toEqual([["opened", "sent"], ["resolved", "pending"]]);
});
