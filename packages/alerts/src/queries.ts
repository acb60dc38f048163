/**
 * Read side for the portal: the alert centre list, one alert, and the
 * delivery log. Every query is scoped with the tenancy helper first; filters
 * only narrow within that scope.
 */
import { type DbOrTx, schema, scopeTo, type TenantScope } from "@tidemark/db";
import type { AlertCondition, AlertSeverity, AlertState } from "@tidemark/db/schema";
import { aliasedTable, and, count, desc, eq, inArray, type SQL } from "drizzle-orm";
import { AlertError } from "./raise";

export type AlertFilters = {
  customerId?: string;
  machineId?: string;
  severity?: AlertSeverity[];
  state?: AlertState[];
  condition?: AlertCondition[];
  /** Rows to skip (the previous page's nextCursor). */
  cursor: number;
  limit: number;
};

const ackUser = aliasedTable(schema.users, "ack_user");
const resolveUser = aliasedTable(schema.users, "resolve_user");

const alertColumns = {
  alert: schema.alerts,
  customerName: schema.customers.name,
  machineName: schema.machines.name,
  acknowledgedByName: ackUser.name,
  acknowledgedByEmail: ackUser.email,
  resolvedByName: resolveUser.name,
  resolvedByEmail: resolveUser.email,
};

type Joined = {
  alert: typeof schema.alerts.$inferSelect;
  customerName: string | null;
  machineName: string | null;
  acknowledgedByName: string | null;
  acknowledgedByEmail: string | null;
  resolvedByName: string | null;
  resolvedByEmail: string | null;
};

export type AlertView = Omit<Joined["alert"], "dedupeKey" | "createdAt" | "updatedAt"> & {
  customerName: string | null;
  machineName: string | null;
  acknowledgedByName: string | null;
  acknowledgedByEmail: string | null;
  resolvedByName: string | null;
  resolvedByEmail: string | null;
  /** Resolved because the condition cleared, not by a person. */
  resolvedAutomatically: boolean;
};

function view(r: Joined): AlertView {
  const { dedupeKey: _k, createdAt: _c, updatedAt: _u, ...alert } = r.alert;
  return {
    ...alert,
    customerName: r.customerName,
    machineName: r.machineName,
    acknowledgedByName: r.acknowledgedByName,
    acknowledgedByEmail: r.acknowledgedByEmail,
    resolvedByName: r.resolvedByName,
    resolvedByEmail: r.resolvedByEmail,
    resolvedAutomatically: alert.state === "resolved" && alert.resolvedBy === null,
  };
}

function joined(db: DbOrTx) {
  return db
    .select(alertColumns)
    .from(schema.alerts)
    .leftJoin(schema.customers, eq(schema.customers.id, schema.alerts.customerId))
    .leftJoin(schema.machines, eq(schema.machines.id, schema.alerts.machineId))
    .leftJoin(ackUser, eq(ackUser.id, schema.alerts.acknowledgedBy))
    .leftJoin(resolveUser, eq(resolveUser.id, schema.alerts.resolvedBy));
}

export type AlertCounts = { open: number; acknowledged: number; critical: number; warning: number; info: number };

/** Unresolved alerts in scope, by state and by severity: the nav badge. */
export async function countAlerts(db: DbOrTx, scope: TenantScope): Promise<AlertCounts> {
  const t = schema.alerts;
  const rows = await db
    .select({ state: t.state, severity: t.severity, n: count() })
    .from(t)
    .where(and(scopeTo(t, scope), inArray(t.state, ["open", "acknowledged"])))
    .groupBy(t.state, t.severity);
  const counts: AlertCounts = { open: 0, acknowledged: 0, critical: 0, warning: 0, info: 0 };
  for (const r of rows) {
    counts[r.state as "open" | "acknowledged"] += Number(r.n);
    counts[r.severity] += Number(r.n);
  }
  return counts;
}

/** Most recently seen first. `counts` cover every unresolved alert in scope, ignoring the filters (for badges and tabs). */
export async function listAlerts(db: DbOrTx, scope: TenantScope, f: AlertFilters) {
  const t = schema.alerts;
  const where: SQL[] = [scopeTo(t, scope)];
  if (f.customerId) where.push(eq(t.customerId, f.customerId));
  if (f.machineId) where.push(eq(t.machineId, f.machineId));
  if (f.severity?.length) where.push(inArray(t.severity, f.severity));
  if (f.state?.length) where.push(inArray(t.state, f.state));
  if (f.condition?.length) where.push(inArray(t.condition, f.condition));
  const cond = and(...where);
  const [rows, [total], counts] = await Promise.all([
    joined(db).where(cond).orderBy(desc(t.lastSeenAt), desc(t.id)).limit(f.limit).offset(f.cursor),
    db.select({ n: count() }).from(t).where(cond),
    countAlerts(db, scope),
  ]);
  const n = Number(total?.n ?? 0);
  return { alerts: rows.map(view), nextCursor: f.cursor + rows.length < n ? f.cursor + rows.length : null, total: n, counts };
}

export async function getAlert(db: DbOrTx, scope: TenantScope, alertId: string): Promise<AlertView> {
  const [row] = await joined(db).where(and(eq(schema.alerts.id, alertId), scopeTo(schema.alerts, scope)));
  if (!row) throw new AlertError("NOT_FOUND", "Alert not found");
  return view(row);
}

export type DeliveryFilters = { alertId?: string; channelId?: string; state?: ("pending" | "sent" | "failed")[]; cursor: number; limit: number };

/**
 * The delivery log. MSP-level only: channels and deliveries carry msp_id, and
 * a customer-scoped caller is refused by scopeTo for MSP-level channels.
 */
export async function listDeliveries(db: DbOrTx, scope: TenantScope, f: DeliveryFilters) {
  const d = schema.alertDeliveries;
  const c = schema.alertChannels;
  const where: SQL[] = [eq(d.mspId, scope.mspId), scopeTo(c, scope)];
  if (f.alertId) where.push(eq(d.alertId, f.alertId));
  if (f.channelId) where.push(eq(d.channelId, f.channelId));
  if (f.state?.length) where.push(inArray(d.state, f.state));
  const cond = and(...where);
  const [rows, [total]] = await Promise.all([
    db
      .select({
        id: d.id,
        alertId: d.alertId,
        alertTitle: schema.alerts.title,
        channelId: d.channelId,
        channelName: c.name,
        channelKind: c.kind,
        event: d.event,
        state: d.state,
        attempts: d.attempts,
        lastStatus: d.lastStatus,
        lastError: d.lastError,
        nextAttemptAt: d.nextAttemptAt,
        sentAt: d.sentAt,
        createdAt: d.createdAt,
        updatedAt: d.updatedAt,
      })
      .from(d)
      .innerJoin(c, and(eq(c.id, d.channelId), eq(c.mspId, d.mspId)))
      .leftJoin(schema.alerts, eq(schema.alerts.id, d.alertId))
      .where(cond)
      .orderBy(desc(d.createdAt), desc(d.id))
      .limit(f.limit)
      .offset(f.cursor),
    db
      .select({ n: count() })
      .from(d)
      .innerJoin(c, and(eq(c.id, d.channelId), eq(c.mspId, d.mspId)))
      .where(cond),
  ]);
  const n = Number(total?.n ?? 0);
  return { deliveries: rows, nextCursor: f.cursor + rows.length < n ? f.cursor + rows.length : null, total: n };
}
