import { customerStorage } from "@tidemark/backup";
import { schema } from "@tidemark/db";
import { createTestDatabase, type TestDatabase } from "@tidemark/db/testing";
import { and, eq, ne } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runMonitors } from "../src";
import { twoMsps } from "./world";

let database: TestDatabase;
let w: Awaited<ReturnType<typeof twoMsps>>;
const now = new Date("2026-11-27T12:00:00Z");
const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000);

beforeAll(async () => {
  database = await createTestDatabase();
  w = await twoMsps(database);
});
afterAll(async () => database?.drop());
beforeEach(async () => {
  const { db } = database;
  for (const t of [schema.alerts, schema.machineAgents, schema.recoveryPoints, schema.agentEvents, schema.packs, schema.policyAssignments, schema.policies]) await db.delete(t);
  await db.update(schema.customers).set({ storageQuotaBytes: null });
  await db.update(schema.machines).set({ enrolledAt: ago(24 * 60) });
});

type M = { id: string; mspId: string; customerId: string };
async function agent(m: M, lastHeartbeatAt: Date | null, pendingChanges = 0) {
  await database.db
    .insert(schema.machineAgents)
    .values({ machineId: m.id, mspId: m.mspId, customerId: m.customerId, lastHeartbeatAt, status: { pendingChanges } })
    .onConflictDoUpdate({ target: schema.machineAgents.machineId, set: { lastHeartbeatAt, status: { pendingChanges } } });
}
async function point(m: M, time: Date) {
  await database.db.insert(schema.recoveryPoints).values({ mspId: m.mspId, customerId: m.customerId, machineId: m.id, clientPointId: `p-${time.getTime()}-${Math.random()}`, manifest: {}, time, consistency: "crash" });
}
const pack = (c: { id: string; mspId: string }, size: number, state: "indexed" | "condemned" = "indexed") =>
  database.db.insert(schema.packs).values({ mspId: c.mspId, customerId: c.id, packId: Math.random().toString(16).slice(2).padEnd(64, "0"), size, salt: Buffer.alloc(16), blobCount: 1, state });
const unresolved = async (condition: string) =>
  database.db
    .select()
    .from(schema.alerts)
    .where(and(eq(schema.alerts.condition, condition as "agent_offline"), ne(schema.alerts.state, "resolved")));

describe("monitors", () => {
  it("agent offline: raised after the policy threshold, bumped while silent, auto-resolved when heartbeats return", async () => {
    await agent(w.a1Machine, ago(20));
    await agent(w.a2Machine, ago(1));
    let run = await runMonitors(database.db, { now });
    expect(await unresolved("agent_offline")).toEqual([]);
    // A policy with a 10-minute threshold assigned to A1 makes the same silence an alert.
    const [policy] = await database.db.insert(schema.policies).values({ mspId: w.mspA.id, name: "tight", retention: { keepWithinHours: 1, hourly: 1, daily: 1, weekly: 1, monthly: 1, yearly: 1 }, offlineAlertMinutes: 10 }).returning();
    await database.db.insert(schema.policyAssignments).values({ mspId: w.mspA.id, customerId: w.a1.id, policyId: policy!.id });
    run = await runMonitors(database.db, { now });
    expect(run.opened).toBeGreaterThanOrEqual(1);
    let open = await unresolved("agent_offline");
    expect(open.map((a) => [a.machineId, a.severity, a.occurrences])).toEqual([[w.a1Machine.id, "warning", 1]]);
    expect(open[0]!.details).toMatchObject({ minutesSilent: 20, thresholdMinutes: 10 });
    await runMonitors(database.db, { now: new Date(now.getTime() + 60_000) });
    open = await unresolved("agent_offline");
    expect(open.map((a) => a.occurrences)).toEqual([2]);
    await agent(w.a1Machine, now);
    run = await runMonitors(database.db, { now });
    expect(await unresolved("agent_offline")).toEqual([]);
    const [resolved] = await database.db.select().from(schema.alerts).where(eq(schema.alerts.id, open[0]!.id));
    expect(resolved).toMatchObject({ state: "resolved", resolvedBy: null });
  });

  it("a machine-level policy overrides the customer default, and a machine that never reported is not offline", async () => {
    await agent(w.a1Machine, ago(40));
    await agent(w.a2Machine, null);
    const retention = { keepWithinHours: 1, hourly: 1, daily: 1, weekly: 1, monthly: 1, yearly: 1 };
    const [lax] = await database.db.insert(schema.policies).values({ mspId: w.mspA.id, name: "lax", retention, offlineAlertMinutes: 120 }).returning();
    await database.db.insert(schema.policyAssignments).values({ mspId: w.mspA.id, customerId: w.a1.id, machineId: w.a1Machine.id, policyId: lax!.id });
    await runMonitors(database.db, { now });
    expect(await unresolved("agent_offline")).toEqual([]);
  });

  it("RPO missed: only with pending changes or a silent agent; resolves when a point lands", async () => {
    // Default policy: rpo 60 s × factor 3 = 3 minutes.
    await agent(w.a1Machine, now, 0);
    await point(w.a1Machine, ago(10));
    await runMonitors(database.db, { now });
    expect(await unresolved("rpo_missed")).toEqual([]);
    await agent(w.a1Machine, now, 12);
    await runMonitors(database.db, { now });
    const open = await unresolved("rpo_missed");
    expect(open.map((a) => [a.machineId, a.severity])).toEqual([[w.a1Machine.id, "critical"]]);
    expect(open[0]!.details).toMatchObject({ pendingChanges: 12, minutesSinceLastPoint: 10, agentOffline: false });
    await point(w.a1Machine, ago(0.5));
    await runMonitors(database.db, { now });
    expect(await unresolved("rpo_missed")).toEqual([]);
    // Silent agent, no pending report: still missed (we cannot know it is idle).
    await agent(w.a2Machine, ago(30), 0);
    await point(w.a2Machine, ago(30));
    await runMonitors(database.db, { now });
    expect((await unresolved("rpo_missed")).map((a) => a.machineId)).toEqual([w.a2Machine.id]);
  });

  it("capture errors: one alert per machine listing examples; resolves after a clean window", async () => {
    await agent(w.a1Machine, now);
    const ev = (kind: string, level: "error" | "warn", minutes: number, message: string, details = {}) =>
      database.db.insert(schema.agentEvents).values({ mspId: w.mspA.id, customerId: w.a1.id, machineId: w.a1Machine.id, time: ago(minutes), level, kind, message, details });
    await ev("unreadable-file", "warn", 2, "permission denied", { path: "/srv/locked.db" });
    await ev("vss-failed", "error", 3, "VSS writer timed out");
    await ev("point-committed", "info" as never, 1, "ok");
    await ev("hook-failed", "error", 60, "old failure outside the window");
    await runMonitors(database.db, { now });
    const open = await unresolved("capture_error");
    expect(open).toHaveLength(1);
    expect(open[0]!.details).toMatchObject({ errors: 2, windowMinutes: 15 });
    expect((open[0]!.details.kinds as string[]).sort()).toEqual(["unreadable-file", "vss-failed"]);
    expect(open[0]!.details.examples).toEqual(["unreadable-file — /srv/locked.db: permission denied", "vss-failed — VSS writer timed out"]);
    await runMonitors(database.db, { now: new Date(now.getTime() + 16 * 60_000) });
    expect(await unresolved("capture_error")).toEqual([]);
  });

  it("storage quota: stored indexed pack bytes above the customer's quota; per MSP", async () => {
    await pack(w.a1, 600);
    await pack(w.a1, 500);
    await pack(w.a1, 10_000, "condemned");
    await pack(w.b1, 5000);
    await database.db.update(schema.customers).set({ storageQuotaBytes: 1000 }).where(eq(schema.customers.id, w.a1.id));
    await database.db.update(schema.customers).set({ storageQuotaBytes: 10_000 }).where(eq(schema.customers.id, w.b1.id));
    await runMonitors(database.db, { now });
    const open = await unresolved("storage_quota");
    expect(open.map((a) => [a.mspId, a.customerId, a.machineId])).toEqual([[w.mspA.id, w.a1.id, null]]);
    expect(open[0]!.details).toEqual({ storedBytes: 1100, quotaBytes: 1000, percentOfQuota: 110 });
    // The same figure the customer page shows: one implementation of "stored bytes".
    const shown = await customerStorage(database.db, { mspId: w.mspA.id, customerId: w.a1.id }, w.a1.id);
    expect(open[0]!.details.storedBytes).toBe(shown.storedBytes);
    await database.db.update(schema.customers).set({ storageQuotaBytes: 2000 }).where(eq(schema.customers.id, w.a1.id));
    expect((await runMonitors(database.db, { now })).resolved).toBe(1);
    expect(await unresolved("storage_quota")).toEqual([]);
  });

  it("alerts nothing watches any more resolve: machine revoked, quota removed", async () => {
    await agent(w.a1Machine, ago(90));
    await pack(w.a1, 5000);
    await database.db.update(schema.customers).set({ storageQuotaBytes: 1000 }).where(eq(schema.customers.id, w.a1.id));
    await runMonitors(database.db, { now });
    expect((await unresolved("agent_offline")).length).toBe(1);
    expect((await unresolved("storage_quota")).length).toBe(1);
    await database.db.update(schema.machineAgents).set({ revokedAt: now }).where(eq(schema.machineAgents.machineId, w.a1Machine.id));
    await database.db.update(schema.customers).set({ storageQuotaBytes: null }).where(eq(schema.customers.id, w.a1.id));
    const run = await runMonitors(database.db, { now });
    expect(run.resolved).toBe(3); // offline, RPO missed, quota
    expect(await unresolved("agent_offline")).toEqual([]);
    expect(await unresolved("storage_quota")).toEqual([]);
    expect(await unresolved("rpo_missed")).toEqual([]);
  });

  it("a quiet system writes nothing", async () => {
    await agent(w.a1Machine, now, 0);
    await point(w.a1Machine, now);
    const run = await runMonitors(database.db, { now });
    expect(run).toMatchObject({ raised: 0, opened: 0, resolved: 0 });
    expect(await database.db.select().from(schema.alerts)).toEqual([]);
  });
});
