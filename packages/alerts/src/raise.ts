/**
 * Opening, re-seeing, acknowledging and resolving alerts. One unresolved alert
 * per (msp, dedupe key) is guaranteed by a partial unique index, so two
 * workers raising the same condition at once update one row instead of
 * opening two (insert … on conflict).
 */
import { type DbOrTx, schema, scopeTo, type TenantScope } from "@tidemark/db";
import { type AlertCondition, alertConditions, type AlertSeverity, alertSeverities } from "@tidemark/db/schema";
import { and, eq, ne, sql } from "drizzle-orm";
import { z } from "zod";
import { kickDeliveries } from "./kick";
import { routeAlert } from "./routing";
import { severityRank } from "./severity";

export type Alert = typeof schema.alerts.$inferSelect;

export const raiseAlertInput = z.object({
  mspId: z.guid(),
  customerId: z.guid().nullish(),
  machineId: z.guid().nullish(),
  condition: z.enum(alertConditions),
  severity: z.enum(alertSeverities),
  /** What the condition is about (a machine id, a customer id, a pack id…): one open alert per condition and subject. */
  subject: z.string().min(1).max(300),
  title: z.string().min(1).max(300),
  details: z.record(z.string(), z.unknown()),
});
export type RaiseAlert = {
  mspId: string;
  customerId?: string | null;
  machineId?: string | null;
  condition: AlertCondition;
  severity: AlertSeverity;
  subject: string;
  title: string;
  details: Record<string, unknown>;
};

export class AlertError extends Error {
  constructor(
    readonly code: "NOT_FOUND" | "BAD_REQUEST" | "CONFLICT" | "TOO_MANY_REQUESTS",
    message: string,
  ) {
    super(message);
    this.name = "AlertError";
  }
}

export const dedupeKeyOf = (condition: AlertCondition, subject: string) => `${condition}:${subject}`;

/** A transaction handle has rollback(); a plain db does not. */
const inTransaction = (db: DbOrTx) => typeof (db as { rollback?: unknown }).rollback === "function";

/**
 * Start delivery. Rows written inside the caller's transaction are invisible
 * until it commits, so those kicks are delayed (2 s, and again at 15 s for a
 * long transaction) rather than racing the commit; the minute sweep is the backstop.
 */
function kick(db: DbOrTx): void {
  if (!inTransaction(db)) return kickDeliveries({ delaySeconds: 0 });
  kickDeliveries({ delaySeconds: 2 });
  kickDeliveries({ delaySeconds: 15 });
}

/**
 * Opens an alert, or bumps the open one for the same condition and subject
 * (occurrences, last seen, latest details). A newly opened alert gets a
 * pending delivery on every channel routed to it.
 */
export async function raiseAlert(db: DbOrTx, input: RaiseAlert): Promise<{ alertId: string; opened: boolean; escalated: boolean }> {
  const a = raiseAlertInput.parse(input);
  const customerId = a.customerId ?? null;
  const machineId = a.machineId ?? null;
  await assertOwnership(db, a.mspId, customerId, machineId);
  const t = schema.alerts;
  // Worse than the open alert says (a warning that now affects recovery points): raise its
  // severity, reopen it if it was acknowledged (someone acknowledged a warning, not this), and tell
  // the channels again. One conditional UPDATE, so of two racing raisers only one escalates.
  const rankSql = sql`case ${t.severity} when 'info' then 0 when 'warning' then 1 else 2 end`;
  const [escalatedRow] = await db
    .update(t)
    .set({ severity: a.severity, state: "open", acknowledgedAt: null, acknowledgedBy: null, updatedAt: sql`now()` })
    .where(and(eq(t.mspId, a.mspId), eq(t.dedupeKey, dedupeKeyOf(a.condition, a.subject)), ne(t.state, "resolved"), sql`${rankSql} < ${severityRank[a.severity]}`))
    .returning({ id: t.id });
  const [row] = await db
    .insert(t)
    .values({ mspId: a.mspId, customerId, machineId, condition: a.condition, severity: a.severity, dedupeKey: dedupeKeyOf(a.condition, a.subject), title: a.title, details: a.details })
    .onConflictDoUpdate({
      target: [t.mspId, t.dedupeKey],
      targetWhere: sql`${t.state} <> 'resolved'`,
      set: { occurrences: sql`${t.occurrences} + 1`, lastSeenAt: sql`now()`, details: a.details, title: a.title, updatedAt: sql`now()` },
    })
    // xmax = 0 only on a freshly inserted row version: tells "opened" from "bumped" in the same statement.
    .returning({ id: t.id, opened: sql<boolean>`(xmax = 0)` });
  const alertId = row!.id;
  const opened = Boolean(row!.opened);
  const escalated = !opened && escalatedRow?.id === alertId;
  if (opened || escalated) {
    const queued = await queueDeliveries(db, { id: alertId, mspId: a.mspId, customerId, severity: a.severity }, opened ? "opened" : "escalated");
    if (queued > 0) kick(db);
  }
  return { alertId, opened, escalated };
}

/** The worker raises for ids it read itself, but a customer or machine of another MSP must never be attached to this MSP's alert. */
async function assertOwnership(db: DbOrTx, mspId: string, customerId: string | null, machineId: string | null): Promise<void> {
  if (customerId) {
    const [c] = await db.select({ id: schema.customers.id }).from(schema.customers).where(and(eq(schema.customers.id, customerId), eq(schema.customers.mspId, mspId)));
    if (!c) throw new AlertError("BAD_REQUEST", `customer ${customerId} does not belong to MSP ${mspId}`);
  }
  if (machineId) {
    const [m] = await db.select({ customerId: schema.machines.customerId }).from(schema.machines).where(and(eq(schema.machines.id, machineId), eq(schema.machines.mspId, mspId)));
    if (!m) throw new AlertError("BAD_REQUEST", `machine ${machineId} does not belong to MSP ${mspId}`);
    if (customerId && m.customerId !== customerId) throw new AlertError("BAD_REQUEST", `machine ${machineId} does not belong to customer ${customerId}`);
  }
}

async function queueDeliveries(
  db: DbOrTx,
  alert: { id: string; mspId: string; customerId: string | null; severity: AlertSeverity },
  event: "opened" | "escalated" | "resolved",
): Promise<number> {
  const channels = await routeAlert(db, alert);
  if (channels.length === 0) return 0;
  await db.insert(schema.alertDeliveries).values(channels.map((c) => ({ mspId: alert.mspId, alertId: alert.id, channelId: c.id, event, nextAttemptAt: new Date() })));
  return channels.length;
}

/**
 * The condition cleared: resolves its unresolved alert automatically
 * (resolved_by null) and queues "resolved" messages. False when nothing was open.
 */
export async function resolveCondition(db: DbOrTx, input: { mspId: string; condition: AlertCondition; subject: string }): Promise<boolean> {
  const t = schema.alerts;
  const [row] = await db
    .update(t)
    .set({ state: "resolved", resolvedAt: sql`now()`, resolvedBy: null, updatedAt: sql`now()` })
    .where(and(eq(t.mspId, input.mspId), eq(t.dedupeKey, dedupeKeyOf(input.condition, input.subject)), ne(t.state, "resolved")))
    .returning();
  if (!row) return false;
  const queued = await queueDeliveries(db, row, "resolved");
  if (queued > 0) kick(db);
  return true;
}

/** Someone is on it: stops nothing (the alert stays unresolved, so the condition cannot open a second one). */
export async function acknowledgeAlert(db: DbOrTx, scope: TenantScope, alertId: string, userId: string): Promise<Alert> {
  const t = schema.alerts;
  const [current] = await db.select().from(t).where(and(eq(t.id, alertId), scopeTo(t, scope))).for("update");
  if (!current) throw new AlertError("NOT_FOUND", "Alert not found");
  if (current.state === "resolved") throw new AlertError("CONFLICT", "This alert is already resolved");
  if (current.state === "acknowledged") return current;
  const [row] = await db
    .update(t)
    .set({ state: "acknowledged", acknowledgedAt: sql`now()`, acknowledgedBy: userId, updatedAt: sql`now()` })
    .where(eq(t.id, alertId))
    .returning();
  return row!;
}

/**
 * Resolved by a person. If the condition is still present the monitor opens a
 * new alert on its next pass, which is what a technician who resolved too
 * early should see.
 */
export async function resolveAlert(db: DbOrTx, scope: TenantScope, alertId: string, userId: string): Promise<Alert> {
  const t = schema.alerts;
  const [current] = await db.select().from(t).where(and(eq(t.id, alertId), scopeTo(t, scope))).for("update");
  if (!current) throw new AlertError("NOT_FOUND", "Alert not found");
  if (current.state === "resolved") throw new AlertError("CONFLICT", "This alert is already resolved");
  const [row] = await db
    .update(t)
    .set({ state: "resolved", resolvedAt: sql`now()`, resolvedBy: userId, updatedAt: sql`now()` })
    .where(eq(t.id, alertId))
    .returning();
  const queued = await queueDeliveries(db, row!, "resolved");
  if (queued > 0) kick(db);
  return row!;
}
