/**
 * Reads and actions for people (tRPC routers, later the worker): every
 * function takes the caller's TenantScope, already resolved by the API's
 * tenant gate, and filters through the tenancy helper, so an id from another
 * tenant reads as "not found".
 */
import { type DbOrTx, schema, scopeTo, type TenantScope } from "@tidemark/db";
import { and, desc, eq, gte, inArray, lte, sql } from "drizzle-orm";
import type { Policy } from "@tidemark/agent-protocol";
import { AgentError, notFound } from "./errors";
import { effectivePolicy } from "./policy";

export async function listRecoveryPoints(db: DbOrTx, scope: TenantScope, machineId: string, opts: { from?: Date; to?: Date; limit?: number } = {}) {
  const rp = schema.recoveryPoints;
  return db
    .select({
      id: rp.id,
      machineId: rp.machineId,
      time: rp.time,
      consistency: rp.consistency,
      stats: rp.stats,
      errorCount: sql<number>`jsonb_array_length(${rp.errors})`.mapWith(Number),
      snapshotId: rp.snapshotId,
    })
    .from(rp)
    .where(and(scopeTo(rp, scope), eq(rp.machineId, machineId), opts.from ? gte(rp.time, opts.from) : undefined, opts.to ? lte(rp.time, opts.to) : undefined))
    .orderBy(desc(rp.time))
    .limit(Math.min(opts.limit ?? 1000, 10_000));
}

export async function getRecoveryPoint(db: DbOrTx, scope: TenantScope, pointId: string) {
  const rp = schema.recoveryPoints;
  const [row] = await db.select().from(rp).where(and(scopeTo(rp, scope), eq(rp.id, pointId)));
  if (!row) throw notFound("Recovery point");
  return row;
}

export type RpoState = "ok" | "late" | "missed" | "none";

/**
 * Late after one RPO without a point, missed after three: a dashboard colour, not an alert rule.
 * `upToDate`: the agent is online and reports no pending changes, so the last point still holds
 * everything — an idle machine is protected, not late (the RPO-missed alert uses the same rule).
 */
export function rpoState(lastPointAt: Date | null, rpoSeconds: number, now = new Date(), upToDate = false): RpoState {
  if (!lastPointAt) return "none";
  if (upToDate) return "ok";
  const age = (now.getTime() - lastPointAt.getTime()) / 1000;
  return age <= rpoSeconds * 1.5 ? "ok" : age <= rpoSeconds * 3 ? "late" : "missed";
}

/** Offline after three missed heartbeats at the agent's one-minute cadence. */
export const OFFLINE_AFTER_MS = 3 * 60_000;

/** The machines list of a customer with what the agent reported and how fresh its protection is. */
export async function machineProtection(db: DbOrTx, scope: TenantScope, customerId: string, now = new Date()) {
  const m = schema.machines;
  const a = schema.machineAgents;
  const rows = await db
    .select({
      id: m.id,
      mspId: m.mspId,
      customerId: m.customerId,
      name: m.name,
      os: m.os,
      agentVersion: m.agentVersion,
      lastSeenAt: m.lastSeenAt,
      hostname: a.hostname,
      freeBytes: a.freeBytes,
      lastError: a.lastError,
      revokedAt: a.revokedAt,
      lastHeartbeatAt: a.lastHeartbeatAt,
      agentStatus: a.status,
    })
    .from(m)
    .leftJoin(a, eq(a.machineId, m.id))
    .where(and(scopeTo(m, scope), eq(m.customerId, customerId)))
    .orderBy(m.name);
  if (rows.length === 0) return [];
  const rp = schema.recoveryPoints;
  const latest = await db
    .selectDistinctOn([rp.machineId], { machineId: rp.machineId, time: rp.time, stats: rp.stats })
    .from(rp)
    .where(and(scopeTo(rp, scope), inArray(rp.machineId, rows.map((r) => r.id))))
    .orderBy(rp.machineId, desc(rp.time));
  const byMachine = new Map(latest.map((l) => [l.machineId, l]));
  return Promise.all(
    rows.map(async (r) => {
      const { policy }: { policy: Policy } = await effectivePolicy(db, { machineId: r.id, mspId: r.mspId, customerId: r.customerId, name: r.name });
      const last = byMachine.get(r.id);
      const seen = r.lastHeartbeatAt ?? r.lastSeenAt;
      const { agentStatus, ...row } = r;
      const online = !r.revokedAt && seen !== null && now.getTime() - seen.getTime() <= OFFLINE_AFTER_MS;
      const pending = agentStatus?.pendingChanges;
      const upToDate = online && pending === 0 && r.lastHeartbeatAt !== null;
      return {
        ...row,
        online,
        revoked: r.revokedAt !== null,
        rpoSeconds: policy.rpoSeconds,
        lastPointAt: last?.time ?? null,
        rpo: rpoState(last?.time ?? null, policy.rpoSeconds, now, upToDate),
        protectedBytes: Number(last?.stats?.bytes ?? 0),
      };
    }),
  );
}

/**
 * Bytes stored for a customer (sealed pack bytes still indexed) against the
 * logical bytes its machines' latest points protect: the dedup ratio the
 * dashboard shows.
 */
export async function customerStorage(db: DbOrTx, scope: TenantScope, customerId: string) {
  const p = schema.packs;
  const [stored] = await db
    .select({ bytes: sql<number>`coalesce(sum(${p.size}), 0)`.mapWith(Number), packs: sql<number>`count(*)`.mapWith(Number) })
    .from(p)
    .where(and(scopeTo(p, scope), eq(p.customerId, customerId), eq(p.state, "indexed")));
  const rp = schema.recoveryPoints;
  const latest = await db
    .selectDistinctOn([rp.machineId], { machineId: rp.machineId, stats: rp.stats })
    .from(rp)
    .where(and(scopeTo(rp, scope), eq(rp.customerId, customerId)))
    .orderBy(rp.machineId, desc(rp.time));
  const [points] = await db
    .select({ n: sql<number>`count(*)`.mapWith(Number) })
    .from(rp)
    .where(and(scopeTo(rp, scope), eq(rp.customerId, customerId)));
  const logical = latest.reduce((s, l) => s + Number(l.stats?.bytes ?? 0), 0);
  const storedBytes = stored?.bytes ?? 0;
  return {
    storedBytes,
    packs: stored?.packs ?? 0,
    protectedBytes: logical,
    recoveryPoints: points?.n ?? 0,
    dedupRatio: storedBytes > 0 ? logical / storedBytes : null,
  };
}

export async function listRestoreJobs(db: DbOrTx, scope: TenantScope, filter: { customerId?: string; machineId?: string; limit?: number } = {}) {
  const j = schema.restoreJobs;
  return db
    .select()
    .from(j)
    .where(and(scopeTo(j, scope), filter.customerId ? eq(j.customerId, filter.customerId) : undefined, filter.machineId ? eq(j.machineId, filter.machineId) : undefined))
    .orderBy(desc(j.createdAt))
    .limit(Math.min(filter.limit ?? 100, 1000));
}

/** A queued or running restore stops being handed out; a running agent is told on its next progress report. */
export async function cancelRestoreJob(db: DbOrTx, scope: TenantScope, jobId: string, now = new Date()) {
  const j = schema.restoreJobs;
  const [job] = await db.select({ state: j.state }).from(j).where(and(scopeTo(j, scope), eq(j.id, jobId)));
  if (!job) throw notFound("Restore job");
  if (job.state !== "queued" && job.state !== "running") throw new AgentError(409, "job_finished", `This restore job already ${job.state}`);
  const [row] = await db
    .update(j)
    .set({ state: "cancelled", finishedAt: now })
    .where(and(scopeTo(j, scope), eq(j.id, jobId), inArray(j.state, ["queued", "running"])))
    .returning();
  if (!row) throw new AgentError(409, "job_finished", "This restore job finished meanwhile");
  return row;
}

export async function listAgentEvents(db: DbOrTx, scope: TenantScope, filter: { machineId?: string; level?: "info" | "warn" | "error"; limit?: number } = {}) {
  const e = schema.agentEvents;
  return db
    .select()
    .from(e)
    .where(and(scopeTo(e, scope), filter.machineId ? eq(e.machineId, filter.machineId) : undefined, filter.level ? eq(e.level, filter.level) : undefined))
    .orderBy(desc(e.time))
    .limit(Math.min(filter.limit ?? 200, 1000));
}

/** Sealed pack bytes each machine uploaded that are still indexed: what it costs in storage (shared chunks count once, for the first uploader). */
export async function storedBytesByMachine(db: DbOrTx, scope: TenantScope, customerId: string): Promise<Map<string, number>> {
  const p = schema.packs;
  const rows = await db
    .select({ machineId: p.uploadedByMachineId, bytes: sql<number>`coalesce(sum(${p.size}), 0)`.mapWith(Number) })
    .from(p)
    .where(and(scopeTo(p, scope), eq(p.customerId, customerId), eq(p.state, "indexed")))
    .groupBy(p.uploadedByMachineId);
  return new Map(rows.filter((r) => r.machineId).map((r) => [r.machineId!, r.bytes]));
}
