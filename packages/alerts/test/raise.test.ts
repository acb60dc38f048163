import { schema } from "@tidemark/db";
import { createTestDatabase, type TestDatabase } from "@tidemark/db/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { acknowledgeAlert, raiseAlert, resolveAlert, resolveCondition, routeAlert, setDeliveryKick } from "../src";
import { addChannel, twoMsps } from "./world";

let database: TestDatabase;
let w: Awaited<ReturnType<typeof twoMsps>>;
let kicks = 0;
let delays: number[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  w = await twoMsps(database);
  setDeliveryKick(({ delaySeconds }) => {
    kicks++;
    delays.push(delaySeconds);
  });
});
afterAll(async () => {
  setDeliveryKick(null);
  await database?.drop();
});
beforeEach(async () => {
  await database.db.delete(schema.alerts);
  await database.db.delete(schema.alertChannels);
  kicks = 0;
  delays = [];
});

const offline = (machine: { id: string; mspId: string; customerId: string }) => ({
  mspId: machine.mspId,
  customerId: machine.customerId,
  machineId: machine.id,
  condition: "agent_offline" as const,
  severity: "warning" as const,
  subject: machine.id,
  title: "Agent offline",
  details: { minutes: 31 },
});

describe("raiseAlert", () => {
  it("opens once per condition and subject, then bumps the open alert", async () => {
    const first = await raiseAlert(database.db, offline(w.a1Machine));
    expect(first.opened).toBe(true);
    const again = await raiseAlert(database.db, { ...offline(w.a1Machine), details: { minutes: 45 } });
    expect(again).toEqual({ alertId: first.alertId, opened: false, escalated: false });
    const [row] = await database.db.select().from(schema.alerts).where(eq(schema.alerts.id, first.alertId));
    expect(row).toMatchObject({ occurrences: 2, state: "open", dedupeKey: `agent_offline:${w.a1Machine.id}`, details: { minutes: 45 } });
    expect(+row!.lastSeenAt).toBeGreaterThanOrEqual(+row!.openedAt);
    // Another machine is another subject.
    expect((await raiseAlert(database.db, offline(w.a2Machine))).opened).toBe(true);
  });

  it("races: ten concurrent raises of one condition open exactly one alert", async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => raiseAlert(database.db, offline(w.a1Machine))));
    expect(results.filter((r) => r.opened)).toHaveLength(1);
    expect(new Set(results.map((r) => r.alertId)).size).toBe(1);
    const rows = await database.db.select().from(schema.alerts);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.occurrences).toBe(10);
  });

  it("after a resolve, the same condition opens a new alert", async () => {
    const first = await raiseAlert(database.db, offline(w.a1Machine));
    expect(await resolveCondition(database.db, { mspId: w.mspA.id, condition: "agent_offline", subject: w.a1Machine.id })).toBe(true);
    expect(await resolveCondition(database.db, { mspId: w.mspA.id, condition: "agent_offline", subject: w.a1Machine.id })).toBe(false);
    const [resolved] = await database.db.select().from(schema.alerts).where(eq(schema.alerts.id, first.alertId));
    expect(resolved).toMatchObject({ state: "resolved", resolvedBy: null });
    expect(resolved!.resolvedAt).toBeInstanceOf(Date);
    const second = await raiseAlert(database.db, offline(w.a1Machine));
    expect(second.opened).toBe(true);
    expect(second.alertId).not.toBe(first.alertId);
  });

  it("refuses a customer or machine of another MSP, and malformed input", async () => {
    await expect(raiseAlert(database.db, { ...offline(w.a1Machine), customerId: w.b1.id, machineId: null })).rejects.toThrow(/does not belong to MSP/);
    await expect(raiseAlert(database.db, { ...offline(w.a1Machine), machineId: w.b1Machine.id })).rejects.toThrow(/does not belong to MSP/);
    await expect(raiseAlert(database.db, { ...offline(w.a1Machine), machineId: w.a2Machine.id })).rejects.toThrow(/does not belong to customer/);
    await expect(raiseAlert(database.db, { ...offline(w.a1Machine), subject: "" })).rejects.toThrow();
    await expect(raiseAlert(database.db, { ...offline(w.a1Machine), condition: "bogus" as never })).rejects.toThrow();
    expect(await database.db.select().from(schema.alerts)).toEqual([]);
  });
});

describe("routing", () => {
  it("customer overrides replace MSP defaults per kind; severity floors and disabled channels are honoured", async () => {
    const mspEmail = await addChannel(database, { mspId: w.mspA.id, kind: "email", name: "NOC mail", targets: ["noc@a.test"], minSeverity: "info" });
    const mspSms = await addChannel(database, { mspId: w.mspA.id, kind: "sms", name: "On-call", targets: ["+15550000001"], minSeverity: "critical" });
    const a1Email = await addChannel(database, { mspId: w.mspA.id, customerId: w.a1.id, kind: "email", name: "A1 IT", targets: ["it@a1.test"] });
    await addChannel(database, { mspId: w.mspA.id, customerId: w.a2.id, kind: "webhook", name: "A2 hook (off)", targets: ["https://a2.test/hook"], enabled: false });
    const bEmail = await addChannel(database, { mspId: w.mspB.id, kind: "email", name: "B mail", targets: ["ops@b.test"], minSeverity: "info" });

    const ids = async (customerId: string | null, severity: "critical" | "warning" | "info") =>
      (await routeAlert(database.db, { mspId: w.mspA.id, customerId, severity })).map((c) => c.id).sort();
    expect(await ids(w.a1.id, "critical")).toEqual([a1Email.id, mspSms.id].sort());
    expect(await ids(w.a1.id, "warning")).toEqual([a1Email.id]);
    expect(await ids(w.a1.id, "info")).toEqual([]);
    expect(await ids(w.a2.id, "warning")).toEqual([mspEmail.id]);
    expect(await ids(null, "critical")).toEqual([mspEmail.id, mspSms.id].sort());
    expect((await routeAlert(database.db, { mspId: w.mspB.id, customerId: w.b1.id, severity: "critical" })).map((c) => c.id)).toEqual([bEmail.id]);
  });

  it("an opened alert queues one delivery per routed channel and never touches another MSP's channels", async () => {
    const aMail = await addChannel(database, { mspId: w.mspA.id, kind: "email", name: "NOC", targets: ["noc@a.test"] });
    const bMail = await addChannel(database, { mspId: w.mspB.id, kind: "email", name: "B", targets: ["ops@b.test"], minSeverity: "info" });
    const bA1 = await addChannel(database, { mspId: w.mspB.id, customerId: w.b1.id, kind: "webhook", name: "B1", targets: ["https://b1.test"], minSeverity: "info" });
    const { alertId } = await raiseAlert(database.db, { ...offline(w.a1Machine), severity: "critical" });
    await raiseAlert(database.db, { ...offline(w.a1Machine), severity: "critical" });
    const deliveries = await database.db.select().from(schema.alertDeliveries);
    expect(deliveries.map((d) => [d.alertId, d.channelId, d.event, d.state, d.mspId])).toEqual([[alertId, aMail.id, "opened", "pending", w.mspA.id]]);
    expect(kicks).toBe(1);
    // And the other way: MSP B's alert reaches only MSP B's channels.
    await raiseAlert(database.db, offline(w.b1Machine));
    const bDeliveries = await database.db.select().from(schema.alertDeliveries).where(eq(schema.alertDeliveries.mspId, w.mspB.id));
    expect(bDeliveries.map((d) => d.channelId).sort()).toEqual([bMail.id, bA1.id].sort());
    const all = await database.db.select({ d: schema.alertDeliveries, c: schema.alertChannels }).from(schema.alertDeliveries).innerJoin(schema.alertChannels, eq(schema.alertChannels.id, schema.alertDeliveries.channelId)).innerJoin(schema.alerts, eq(schema.alerts.id, schema.alertDeliveries.alertId));
    for (const { d, c } of all) expect(c.mspId).toBe(d.mspId);
  });
});

describe("escalation", () => {
  it("a worse raise of the open alert raises its severity, reopens an acknowledged one and tells the channels once; a milder one changes nothing", async () => {
    const mail = await addChannel(database, { mspId: w.mspA.id, kind: "email", name: "NOC", targets: ["noc@a.test"], minSeverity: "info" });
    const pager = await addChannel(database, { mspId: w.mspA.id, kind: "sms", name: "Pager", targets: ["+15550100"], minSeverity: "critical" });
    const first = await raiseAlert(database.db, offline(w.a1Machine));
    const [member] = await database.db.insert(schema.users).values({ id: "u-esc", name: "Tech", email: "esc@a.test", emailVerified: true }).returning();
    expect((await acknowledgeAlert(database.db, { mspId: w.mspA.id }, first.alertId, member!.id)).state).toBe("acknowledged");
    const results = await Promise.all(Array.from({ length: 5 }, () => raiseAlert(database.db, { ...offline(w.a1Machine), severity: "critical" })));
    expect(results.filter((r) => r.escalated)).toHaveLength(1);
    expect(new Set(results.map((r) => r.alertId))).toEqual(new Set([first.alertId]));
    const [row] = await database.db.select().from(schema.alerts).where(eq(schema.alerts.id, first.alertId));
    expect(row).toMatchObject({ severity: "critical", state: "open", acknowledgedAt: null, occurrences: 6 });
    // A milder raise neither lowers the severity nor notifies.
    expect(await raiseAlert(database.db, offline(w.a1Machine))).toEqual({ alertId: first.alertId, opened: false, escalated: false });
    const deliveries = await database.db.select().from(schema.alertDeliveries).where(eq(schema.alertDeliveries.alertId, first.alertId));
    expect(deliveries.map((d) => [d.channelId, d.event]).sort()).toEqual([[mail.id, "opened"], [mail.id, "escalated"], [pager.id, "escalated"]].sort());
    const [after] = await database.db.select().from(schema.alerts).where(eq(schema.alerts.id, first.alertId));
    expect(after!.severity).toBe("critical");
  });
});

describe("delivery kicks", () => {
  it("start delivery at once outside a transaction, after the commit inside one, and not for a bump", async () => {
    await addChannel(database, { mspId: w.mspA.id, kind: "email", name: "NOC", targets: ["noc@a.test"] });
    await raiseAlert(database.db, offline(w.a1Machine));
    expect(delays).toEqual([0]);
    await raiseAlert(database.db, offline(w.a1Machine));
    expect(delays).toEqual([0]);
    delays = [];
    await database.db.transaction(async (tx) => {
      await raiseAlert(tx, offline(w.a2Machine));
      expect(delays).toEqual([2, 15]);
    });
    // No channel routed → nothing to kick.
    delays = [];
    await raiseAlert(database.db, { ...offline(w.b1Machine) });
    expect(delays).toEqual([]);
  });
});

describe("acknowledge and resolve by a person", () => {
  it("acknowledges, resolves, queues resolved messages, and refuses other scopes and double resolves", async () => {
    const [user] = await database.db.insert(schema.users).values({ id: "u-tech", name: "Tech", email: "tech@a.test", emailVerified: true }).returning();
    await addChannel(database, { mspId: w.mspA.id, kind: "webhook", name: "hook", targets: ["https://a.test/h"] });
    const { alertId } = await raiseAlert(database.db, offline(w.a1Machine));
    await expect(acknowledgeAlert(database.db, { mspId: w.mspB.id }, alertId, user!.id)).rejects.toThrow(/not found/);
    await expect(acknowledgeAlert(database.db, { mspId: w.mspA.id, customerId: w.a2.id }, alertId, user!.id)).rejects.toThrow(/not found/);
    const acked = await acknowledgeAlert(database.db, { mspId: w.mspA.id, customerId: w.a1.id }, alertId, user!.id);
    expect(acked).toMatchObject({ state: "acknowledged", acknowledgedBy: user!.id });
    // Still unresolved: the condition bumps it rather than opening a second.
    expect(await raiseAlert(database.db, offline(w.a1Machine))).toEqual({ alertId, opened: false, escalated: false });
    const resolved = await resolveAlert(database.db, { mspId: w.mspA.id }, alertId, user!.id);
    expect(resolved).toMatchObject({ state: "resolved", resolvedBy: user!.id });
    await expect(resolveAlert(database.db, { mspId: w.mspA.id }, alertId, user!.id)).rejects.toThrow(/already resolved/);
    await expect(acknowledgeAlert(database.db, { mspId: w.mspA.id }, alertId, user!.id)).rejects.toThrow(/already resolved/);
    const events = (await database.db.select().from(schema.alertDeliveries)).map((d) => d.event).sort();
    expect(events).toEqual(["opened", "resolved"]);
  });
});
