/**
 * Portal reads and requests (tRPC `verification.*`): every query is scoped
 * through the tenancy helper with the scope the API's tenant gate resolved.
 */
import { type DbOrTx, schema, scopeTo, scopeToCustomer, type TenantScope } from "@tidemark/db";
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { notFound } from "../errors";
import type { CustomerScope } from "../kek";
import { customerScrubPeriodDays, type ScrubCoverage, scrubCoverage } from "./scrub";

export type VerificationRequestKind = "scrub" | "restore_test" | "repository_check";
export type VerificationRequest = typeof schema.verificationRequests.$inferSelect;

/**
 * Records a request the worker picks up within seconds. An identical request
 * still queued or running is returned instead of stacking a second one.
 */
export async function requestVerification(
  db: DbOrTx,
  scope: CustomerScope,
  req: { kind: VerificationRequestKind; machineId?: string | null; recoveryPointId?: string | null; requestedByUserId?: string | null },
): Promise<{ request: VerificationRequest; duplicate: boolean }> {
  const vr = schema.verificationRequests;
  if (req.machineId) {
    const [m] = await db.select({ id: schema.machines.id }).from(schema.machines).where(and(eq(schema.machines.id, req.machineId), scopeToCustomer(schema.machines, scope)));
    if (!m) throw notFound("Machine");
  }
  if (req.recoveryPointId) {
    const rp = schema.recoveryPoints;
    const [p] = await db
      .select({ id: rp.id })
      .from(rp)
      .where(and(eq(rp.id, req.recoveryPointId), scopeToCustomer(rp, scope), ...(req.machineId ? [eq(rp.machineId, req.machineId)] : [])));
    if (!p) throw notFound("Recovery point");
  }
  const [pending] = await db
    .select()
    .from(vr)
    .where(
      and(
        scopeToCustomer(vr, scope),
        eq(vr.kind, req.kind),
        inArray(vr.state, ["queued", "running"]),
        req.machineId ? eq(vr.machineId, req.machineId) : isNull(vr.machineId),
        req.recoveryPointId ? eq(vr.recoveryPointId, req.recoveryPointId) : isNull(vr.recoveryPointId),
      ),
    )
    .limit(1);
  if (pending) return { request: pending, duplicate: true };
  const [row] = await db
    .insert(vr)
    .values({ ...scope, kind: req.kind, machineId: req.machineId ?? null, recoveryPointId: req.recoveryPointId ?? null, requestedByUserId: req.requestedByUserId ?? null })
    .returning();
  return { request: row!, duplicate: false };
}

/** The worker's side: the oldest queued request, claimed (running) so no other worker takes it. */
export async function claimVerificationRequest(db: DbOrTx): Promise<VerificationRequest | null> {
  const vr = schema.verificationRequests;
  return db.transaction(async (tx) => {
    const [next] = await tx.select().from(vr).where(eq(vr.state, "queued")).orderBy(vr.createdAt).limit(1).for("update", { skipLocked: true });
    if (!next) return null;
    const [claimed] = await tx
      .update(vr)
      .set({ state: "running", claimedAt: new Date() })
      .where(and(eq(vr.id, next.id), eq(vr.state, "queued")))
      .returning();
    return claimed ?? null;
  });
}

export async function finishVerificationRequest(db: DbOrTx, id: string, outcome: { result?: Record<string, unknown>; error?: string }): Promise<void> {
  const vr = schema.verificationRequests;
  await db
    .update(vr)
    .set({ state: outcome.error ? "failed" : "done", finishedAt: new Date(), result: outcome.result ?? null, error: outcome.error ?? null })
    .where(eq(vr.id, id));
}

export async function getVerificationRequest(db: DbOrTx, scope: TenantScope, id: string): Promise<VerificationRequest> {
  const vr = schema.verificationRequests;
  const [row] = await db.select().from(vr).where(and(scopeTo(vr, scope), eq(vr.id, id)));
  if (!row) throw notFound("Verification request");
  return row;
}

export async function listRestoreTests(db: DbOrTx, scope: TenantScope, filter: { machineId?: string; pointId?: string; limit?: number }) {
  const rt = schema.restoreTests;
  return db
    .select({
      id: rt.id,
      machineId: rt.machineId,
      recoveryPointId: rt.recoveryPointId,
      pointTime: schema.recoveryPoints.time,
      trigger: rt.trigger,
      state: rt.state,
      startedAt: rt.startedAt,
      finishedAt: rt.finishedAt,
      durationMs: rt.durationMs,
      files: rt.files,
      bytes: rt.bytes,
      fsChecks: rt.fsChecks,
      findings: rt.findings,
    })
    .from(rt)
    .innerJoin(schema.recoveryPoints, eq(schema.recoveryPoints.id, rt.recoveryPointId))
    .where(
      and(
        scopeTo(rt, scope),
        ...(filter.machineId ? [eq(rt.machineId, filter.machineId)] : []),
        ...(filter.pointId ? [eq(rt.recoveryPointId, filter.pointId)] : []),
      ),
    )
    .orderBy(desc(rt.startedAt))
    .limit(Math.min(200, filter.limit ?? 50));
}

export async function listRepositoryChecks(db: DbOrTx, scope: TenantScope, customerId: string, limit = 50) {
  const rc = schema.repositoryChecks;
  return db
    .select()
    .from(rc)
    .where(and(scopeTo(rc, scope), eq(rc.customerId, customerId)))
    .orderBy(desc(rc.startedAt))
    .limit(Math.min(200, limit));
}

export type PointDamageView = {
  pointId: string;
  health: "ok" | "damaged" | "healed";
  detectedAt: string | null;
  healedAt: string | null;
  files: string[];
  chunks: { total: number; open: number };
};

export async function pointDamage(db: DbOrTx, scope: TenantScope, pointId: string): Promise<PointDamageView> {
  const rp = schema.recoveryPoints;
  const [p] = await db
    .select({ id: rp.id, customerId: rp.customerId, health: rp.health, damage: rp.damage })
    .from(rp)
    .where(and(scopeTo(rp, scope), eq(rp.id, pointId)));
  if (!p) throw notFound("Recovery point");
  const ids = p.damage?.chunkIds ?? [];
  let open = 0;
  if (ids.length > 0 && p.health === "damaged") {
    const bc = schema.badChunks;
    const [row] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(bc)
      .where(
        and(
          eq(bc.customerId, p.customerId),
          scopeTo(bc, scope),
          isNull(bc.healedAt),
          sql`encode(${bc.chunkId}, 'hex') = any(${`{${ids.filter((i) => /^[0-9a-f]{64}$/.test(i)).join(",")}}`}::text[])`,
        ),
      );
    open = row?.n ?? 0;
  }
  return {
    pointId: p.id,
    health: p.health,
    detectedAt: p.damage?.detectedAt ?? null,
    healedAt: p.damage?.healedAt ?? null,
    files: p.damage?.files ?? [],
    chunks: { total: ids.length, open },
  };
}

export type MachineVerificationSummary = {
  machineId: string;
  lastRestoreTest: { id: string; state: "running" | "passed" | "failed"; startedAt: Date; finishedAt: Date | null; recoveryPointId: string; files: number; bytes: number; durationMs: number | null } | null;
  /** The last test that passed: "last verified restore: 3 h ago ✓". */
  lastVerifiedRestoreAt: Date | null;
  damagedPoints: number;
  healedPoints: number;
  scrub: ScrubCoverage;
  openBadChunks: number;
  pendingRequests: Array<{ id: string; kind: VerificationRequestKind; state: string; createdAt: Date }>;
};

/** Bad chunks of the customer not yet healed (a re-uploaded copy verified). */
async function countOpenBadChunks(db: DbOrTx, customer: CustomerScope): Promise<number> {
  const bc = schema.badChunks;
  const [bad] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(bc)
    .where(and(scopeToCustomer(bc, customer), isNull(bc.healedAt)));
  return bad?.n ?? 0;
}

export async function machineVerificationSummary(db: DbOrTx, scope: TenantScope, machineId: string, now = new Date()): Promise<MachineVerificationSummary> {
  const [m] = await db
    .select({ id: schema.machines.id, mspId: schema.machines.mspId, customerId: schema.machines.customerId })
    .from(schema.machines)
    .where(and(eq(schema.machines.id, machineId), scopeTo(schema.machines, scope)));
  if (!m) throw notFound("Machine");
  const customer = { mspId: m.mspId, customerId: m.customerId };
  const rt = schema.restoreTests;
  const [last] = await db
    .select({ id: rt.id, state: rt.state, startedAt: rt.startedAt, finishedAt: rt.finishedAt, recoveryPointId: rt.recoveryPointId, files: rt.files, bytes: rt.bytes, durationMs: rt.durationMs })
    .from(rt)
    .where(and(scopeToCustomer(rt, customer), eq(rt.machineId, machineId)))
    .orderBy(desc(rt.startedAt))
    .limit(1);
  const [passed] = await db
    .select({ at: rt.finishedAt })
    .from(rt)
    .where(and(scopeToCustomer(rt, customer), eq(rt.machineId, machineId), eq(rt.state, "passed")))
    .orderBy(desc(rt.finishedAt))
    .limit(1);
  const rp = schema.recoveryPoints;
  const [health] = await db
    .select({
      damaged: sql<number>`count(*) filter (where ${rp.health} = 'damaged')::int`,
      healed: sql<number>`count(*) filter (where ${rp.health} = 'healed')::int`,
    })
    .from(rp)
    .where(and(scopeToCustomer(rp, customer), eq(rp.machineId, machineId)));
  const openBadChunks = await countOpenBadChunks(db, customer);
  const vr = schema.verificationRequests;
  const pending = await db
    .select({ id: vr.id, kind: vr.kind, state: vr.state, createdAt: vr.createdAt })
    .from(vr)
    .where(and(scopeToCustomer(vr, customer), inArray(vr.state, ["queued", "running"]), sql`(${vr.machineId} = ${machineId} or ${vr.machineId} is null)`))
    .orderBy(desc(vr.createdAt))
    .limit(10);
  const periodDays = await customerScrubPeriodDays({ db, scope: customer });
  return {
    machineId,
    lastRestoreTest: last ?? null,
    lastVerifiedRestoreAt: passed?.at ?? null,
    damagedPoints: health?.damaged ?? 0,
    healedPoints: health?.healed ?? 0,
    scrub: await scrubCoverage({ db, scope: customer }, periodDays, now),
    openBadChunks,
    pendingRequests: pending,
  };
}

/** Points that are (or were) damaged, newest first: the portal lists them with their files. */
export async function damagedPoints(db: DbOrTx, scope: TenantScope, filter: { customerId: string; machineId?: string; includeHealed?: boolean }) {
  const rp = schema.recoveryPoints;
  return db
    .select({ id: rp.id, machineId: rp.machineId, machineName: schema.machines.name, time: rp.time, health: rp.health, damage: rp.damage })
    .from(rp)
    .innerJoin(schema.machines, eq(schema.machines.id, rp.machineId))
    .where(
      and(
        scopeTo(rp, scope),
        eq(rp.customerId, filter.customerId),
        ...(filter.machineId ? [eq(rp.machineId, filter.machineId)] : []),
        filter.includeHealed ? inArray(rp.health, ["damaged", "healed"]) : eq(rp.health, "damaged"),
      ),
    )
    .orderBy(desc(rp.time))
    .limit(500);
}

export type CustomerVerificationSummary = {
  customerId: string;
  scrub: ScrubCoverage;
  openBadChunks: number;
  damagedPoints: number;
  healedPoints: number;
  lastRepositoryCheck: { id: string; state: "running" | "passed" | "failed"; startedAt: Date; finishedAt: Date | null; missingPacks: string[] } | null;
  pendingRequests: Array<{ id: string; kind: VerificationRequestKind; machineId: string | null; state: string; createdAt: Date }>;
  machines: Array<{
    id: string;
    name: string;
    lastRestoreTest: { id: string; state: "running" | "passed" | "failed"; startedAt: Date; finishedAt: Date | null } | null;
    lastVerifiedRestoreAt: Date | null;
    damagedPoints: number;
  }>;
};

/** The customer dashboard's verification panel in one call (instead of one `machineVerificationSummary` per machine). */
export async function customerVerificationSummary(db: DbOrTx, scope: TenantScope, customerId: string, now = new Date()): Promise<CustomerVerificationSummary> {
  const [c] = await db
    .select({ id: schema.customers.id, mspId: schema.customers.mspId })
    .from(schema.customers)
    .where(and(eq(schema.customers.id, customerId), scopeTo({ mspId: schema.customers.mspId, customerId: schema.customers.id }, scope)));
  if (!c) throw notFound("Customer");
  const customer = { mspId: c.mspId, customerId: c.id };
  const rp = schema.recoveryPoints;
  const perMachine = await db
    .select({
      machineId: rp.machineId,
      damaged: sql<number>`count(*) filter (where ${rp.health} = 'damaged')::int`,
      healed: sql<number>`count(*) filter (where ${rp.health} = 'healed')::int`,
    })
    .from(rp)
    .where(scopeToCustomer(rp, customer))
    .groupBy(rp.machineId);
  const rt = schema.restoreTests;
  const lastTests = await db
    .selectDistinctOn([rt.machineId], { machineId: rt.machineId, id: rt.id, state: rt.state, startedAt: rt.startedAt, finishedAt: rt.finishedAt })
    .from(rt)
    .where(scopeToCustomer(rt, customer))
    .orderBy(rt.machineId, desc(rt.startedAt));
  const lastPassed = await db
    .select({ machineId: rt.machineId, at: sql<Date | null>`max(${rt.finishedAt})` })
    .from(rt)
    .where(and(scopeToCustomer(rt, customer), eq(rt.state, "passed")))
    .groupBy(rt.machineId);
  const machines = await db
    .select({ id: schema.machines.id, name: schema.machines.name })
    .from(schema.machines)
    .where(scopeToCustomer(schema.machines, customer))
    .orderBy(schema.machines.name);
  const rc = schema.repositoryChecks;
  const [check] = await db
    .select({ id: rc.id, state: rc.state, startedAt: rc.startedAt, finishedAt: rc.finishedAt, missingPacks: rc.missingPacks })
    .from(rc)
    .where(scopeToCustomer(rc, customer))
    .orderBy(desc(rc.startedAt))
    .limit(1);
  const openBadChunks = await countOpenBadChunks(db, customer);
  const vr = schema.verificationRequests;
  const pending = await db
    .select({ id: vr.id, kind: vr.kind, machineId: vr.machineId, state: vr.state, createdAt: vr.createdAt })
    .from(vr)
    .where(and(scopeToCustomer(vr, customer), inArray(vr.state, ["queued", "running"])))
    .orderBy(desc(vr.createdAt))
    .limit(20);
  const periodDays = await customerScrubPeriodDays({ db, scope: customer });
  const health = new Map(perMachine.map((r) => [r.machineId, r]));
  const tests = new Map(lastTests.map((t) => [t.machineId, t]));
  const passed = new Map(lastPassed.map((p) => [p.machineId, p.at ? new Date(p.at) : null]));
  return {
    customerId,
    scrub: await scrubCoverage({ db, scope: customer }, periodDays, now),
    openBadChunks,
    damagedPoints: perMachine.reduce((a, r) => a + r.damaged, 0),
    healedPoints: perMachine.reduce((a, r) => a + r.healed, 0),
    lastRepositoryCheck: check ?? null,
    pendingRequests: pending,
    machines: machines.map((m) => {
      const t = tests.get(m.id);
      return {
        id: m.id,
        name: m.name,
        lastRestoreTest: t ? { id: t.id, state: t.state, startedAt: t.startedAt, finishedAt: t.finishedAt } : null,
        lastVerifiedRestoreAt: passed.get(m.id) ?? null,
        damagedPoints: health.get(m.id)?.damaged ?? 0,
      };
    }),
  };
}
