/**
 * The conditions the worker checks every minute across every MSP: agent
 * offline, RPO missed, capture errors, storage above quota. Each check raises
 * (or keeps bumping) its alert while the condition holds and resolves it
 * automatically once it clears — or once nothing watches it any more (machine
 * revoked, quota removed). These four conditions belong to the monitors;
 * corruption and restore tests are raised by the verification jobs.
 */
import { type Db, schema } from "@tidemark/db";
import type { AlertCondition } from "@tidemark/db/schema";
import { and, eq, gte, inArray, isNotNull, isNull, ne, or, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { raiseAlert, resolveCondition } from "./raise";

export type MonitorOptions = {
  now?: Date;
  /** Capture errors are counted over this window; the alert resolves after a window without any. Default 15 min. */
  captureErrorWindowMinutes?: number;
};

export type MonitorRun = { raised: number; opened: number; resolved: number; checked: { machines: number; customers: number } };

/** Policy defaults (the DB column defaults and the agent protocol's) for machines without any policy assigned. */
const DEFAULTS = { rpoSeconds: 60, offlineAlertMinutes: 30, rpoMissedFactor: 3 };

/** Agent events that mean capture is not working as it should. */
export const CAPTURE_ERROR_KINDS = ["unreadable-file", "hook-failed", "vss-failed"] as const;

const monitored: AlertCondition[] = ["agent_offline", "rpo_missed", "capture_error", "storage_quota"];

type Verdict = { mspId: string; customerId: string | null; machineId: string | null; condition: AlertCondition; subject: string; holds: boolean; severity: "critical" | "warning"; title: string; details: Record<string, unknown> };

const minutes = (ms: number) => Math.floor(ms / 60_000);

/** Each enrolled (not revoked) machine with the thresholds of its effective policy (machine assignment, else customer default). */
async function machinesWithPolicy(db: Db) {
  const a = schema.machineAgents;
  const m = schema.machines;
  const machineAssign = alias(schema.policyAssignments, "machine_assign");
  const customerAssign = alias(schema.policyAssignments, "customer_assign");
  const machinePolicy = alias(schema.policies, "machine_policy");
  const customerPolicy = alias(schema.policies, "customer_policy");
  const rp = schema.recoveryPoints;
  return db
    .select({
      machineId: a.machineId,
      mspId: a.mspId,
      customerId: a.customerId,
      name: m.name,
      lastHeartbeatAt: a.lastHeartbeatAt,
      enrolledAt: m.enrolledAt,
      status: a.status,
      rpoSeconds: sql<number>`coalesce(${machinePolicy.rpoSeconds}, ${customerPolicy.rpoSeconds}, ${DEFAULTS.rpoSeconds})`.mapWith(Number),
      offlineAlertMinutes: sql<number>`coalesce(${machinePolicy.offlineAlertMinutes}, ${customerPolicy.offlineAlertMinutes}, ${DEFAULTS.offlineAlertMinutes})`.mapWith(Number),
      rpoMissedFactor: sql<number>`coalesce(${machinePolicy.rpoMissedFactor}, ${customerPolicy.rpoMissedFactor}, ${DEFAULTS.rpoMissedFactor})`.mapWith(Number),
      lastPointAt: sql<string | null>`(select max(${rp.time}) from ${rp} where ${rp.machineId} = ${a.machineId})`,
    })
    .from(a)
    .innerJoin(m, and(eq(m.id, a.machineId), eq(m.mspId, a.mspId)))
    .leftJoin(machineAssign, and(eq(machineAssign.machineId, a.machineId), eq(machineAssign.customerId, a.customerId)))
    .leftJoin(machinePolicy, and(eq(machinePolicy.id, machineAssign.policyId), eq(machinePolicy.mspId, a.mspId)))
    .leftJoin(customerAssign, and(eq(customerAssign.customerId, a.customerId), isNull(customerAssign.machineId)))
    .leftJoin(customerPolicy, and(eq(customerPolicy.id, customerAssign.policyId), eq(customerPolicy.mspId, a.mspId)))
    .where(isNull(a.revokedAt));
}

async function machineVerdicts(db: Db, now: Date, windowMinutes: number): Promise<{ verdicts: Verdict[]; machines: number }> {
  const machines = await machinesWithPolicy(db);
  const since = new Date(now.getTime() - windowMinutes * 60_000);
  const e = schema.agentEvents;
  const errors = await db
    .select({ machineId: e.machineId, kind: e.kind, message: e.message, time: e.time, details: e.details })
    .from(e)
    .where(and(gte(e.time, since), or(eq(e.level, "error"), inArray(e.kind, [...CAPTURE_ERROR_KINDS]))))
    .orderBy(sql`${e.time} desc`)
    .limit(10_000);
  const errorsBy = new Map<string, typeof errors>();
  for (const ev of errors) errorsBy.set(ev.machineId, [...(errorsBy.get(ev.machineId) ?? []), ev]);

  const verdicts: Verdict[] = [];
  for (const mc of machines) {
    const base = { mspId: mc.mspId, customerId: mc.customerId, machineId: mc.machineId, subject: mc.machineId };
    const silentMs = mc.lastHeartbeatAt ? now.getTime() - mc.lastHeartbeatAt.getTime() : null;
    // A machine that never sent a heartbeat has not started protecting anything yet: nothing to be offline from.
    const offline = silentMs !== null && silentMs > mc.offlineAlertMinutes * 60_000;
    verdicts.push({
      ...base,
      condition: "agent_offline",
      holds: offline,
      severity: "warning",
      title: `Agent offline for ${minutes(silentMs ?? 0)} min: ${mc.name}`,
      details: { lastHeartbeatAt: mc.lastHeartbeatAt?.toISOString() ?? null, minutesSilent: minutes(silentMs ?? 0), thresholdMinutes: mc.offlineAlertMinutes },
    });

    const lastPoint = mc.lastPointAt ? new Date(mc.lastPointAt) : null;
    const since = lastPoint ?? mc.enrolledAt;
    const ageMs = now.getTime() - since.getTime();
    const pending = Number((mc.status as { pendingChanges?: unknown }).pendingChanges ?? 0) || 0;
    const limitMs = mc.rpoMissedFactor * mc.rpoSeconds * 1000;
    // Missed only if there was something to capture (pending changes) or we cannot know (agent offline).
    const agentSilent = silentMs === null || silentMs > Math.max(limitMs, 3 * 60_000);
    verdicts.push({
      ...base,
      condition: "rpo_missed",
      holds: ageMs > limitMs && (pending > 0 || agentSilent),
      severity: "critical",
      title: `RPO missed: no recovery point for ${minutes(ageMs)} min on ${mc.name}`,
      details: {
        lastPointAt: lastPoint?.toISOString() ?? null,
        minutesSinceLastPoint: minutes(ageMs),
        rpoSeconds: mc.rpoSeconds,
        rpoMissedFactor: mc.rpoMissedFactor,
        pendingChanges: pending,
        agentOffline: agentSilent,
      },
    });

    const errs = errorsBy.get(mc.machineId) ?? [];
    verdicts.push({
      ...base,
      condition: "capture_error",
      holds: errs.length > 0,
      severity: "warning",
      title: `Capture errors on ${mc.name}`,
      details: {
        errors: errs.length,
        windowMinutes,
        kinds: [...new Set(errs.map((x) => x.kind))],
        examples: errs.slice(0, 10).map((x) => {
          const path = typeof x.details?.path === "string" ? `${x.details.path}: ` : "";
          return `${x.kind} — ${path}${x.message}`.slice(0, 300);
        }),
      },
    });
  }
  return { verdicts, machines: machines.length };
}

async function quotaVerdicts(db: Db): Promise<{ verdicts: Verdict[]; customers: number }> {
  const c = schema.customers;
  const customers = await db
    .select({ customerId: c.id, mspId: c.mspId, name: c.name, quota: c.storageQuotaBytes })
    .from(c)
    .where(isNotNull(c.storageQuotaBytes));
  const rows = [];
  if (customers.length === 0) return { verdicts: [], customers: 0 };
  // The customer page's own figure (backup's customerStorage), so the alert and the quota panel never
  // disagree. Loaded here, not at the top: @tidemark/backup brings the engine, which this package's
  // core keeps out of its importers (see ./kek); the processes that run monitors load it anyway.
  const { customerStorage } = await import("@tidemark/backup");
  for (const r of customers) rows.push({ ...r, stored: (await customerStorage(db, { mspId: r.mspId, customerId: r.customerId }, r.customerId)).storedBytes });
  const verdicts = rows.map<Verdict>((r) => ({
    mspId: r.mspId,
    customerId: r.customerId,
    machineId: null,
    condition: "storage_quota",
    subject: r.customerId,
    holds: r.stored > (r.quota ?? Number.POSITIVE_INFINITY),
    severity: "warning",
    title: `Storage above quota: ${r.name}`,
    details: { storedBytes: r.stored, quotaBytes: r.quota, percentOfQuota: r.quota ? Math.round((r.stored / r.quota) * 100) : null },
  }));
  return { verdicts, customers: rows.length };
}

/**
 * One pass over every monitored condition. Conditions that hold raise (or
 * bump) their alert; ones that cleared resolve theirs — only where an
 * unresolved alert exists, so a quiet system writes nothing.
 */
export async function runMonitors(db: Db, opts: MonitorOptions = {}): Promise<MonitorRun> {
  const now = opts.now ?? new Date();
  const window = opts.captureErrorWindowMinutes ?? 15;
  const [machine, quota, open] = await Promise.all([
    machineVerdicts(db, now, window),
    quotaVerdicts(db),
    db
      .select({ mspId: schema.alerts.mspId, dedupeKey: schema.alerts.dedupeKey, condition: schema.alerts.condition })
      .from(schema.alerts)
      .where(and(ne(schema.alerts.state, "resolved"), inArray(schema.alerts.condition, monitored))),
  ]);
  const unresolved = new Set(open.map((o) => `${o.mspId}/${o.dedupeKey}`));
  const run: MonitorRun = { raised: 0, opened: 0, resolved: 0, checked: { machines: machine.machines, customers: quota.customers } };
  const verdicts = [...machine.verdicts, ...quota.verdicts];
  for (const v of verdicts) {
    if (v.holds) {
      const r = await raiseAlert(db, { mspId: v.mspId, customerId: v.customerId, machineId: v.machineId, condition: v.condition, severity: v.severity, subject: v.subject, title: v.title, details: v.details });
      run.raised++;
      if (r.opened) run.opened++;
    } else if (unresolved.has(`${v.mspId}/${v.condition}:${v.subject}`)) {
      if (await resolveCondition(db, { mspId: v.mspId, condition: v.condition, subject: v.subject })) run.resolved++;
    }
  }
  // An open alert nothing watches any more (machine revoked, quota removed) has cleared too.
  const watched = new Set(verdicts.map((v) => `${v.mspId}/${v.condition}:${v.subject}`));
  for (const o of open) {
    if (watched.has(`${o.mspId}/${o.dedupeKey}`)) continue;
    if (await resolveCondition(db, { mspId: o.mspId, condition: o.condition, subject: o.dedupeKey.slice(o.condition.length + 1) })) run.resolved++;
  }
  return run;
}
