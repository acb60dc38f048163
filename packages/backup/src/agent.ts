/**
 * What an authenticated machine may do. Every function takes the
 * MachineContext from authenticateMachine and scopes every query to that
 * machine's customer through the tenancy helper: ids from the request are
 * only ever looked up inside that scope.
 */
import type {
  AgentEvent,
  CommitPointRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  PackReport,
  RestoreJob,
  RestoreProgressReport,
  RestoreResultReport,
  UploadSession,
} from "@tidemark/agent-protocol";
import { MAX_HEAL_IDS, packColumns, splitHexIds } from "@tidemark/agent-protocol";
import { type Tx, schema, scopeToCustomer } from "@tidemark/db";
import { and, asc, eq, inArray, isNull } from "drizzle-orm";
import { conflict, notFound, unprocessable } from "./errors";
import { packObjectName, snapshotObjectName } from "./layout";
import type { MachineContext } from "./machine-auth";
import { PgIndex } from "./pg-index";
import { effectivePolicy } from "./policy";
import type { AgentServices } from "./services";

export async function heartbeat(svc: AgentServices, m: MachineContext, req: HeartbeatRequest, now = new Date()): Promise<HeartbeatResponse> {
  const { db } = svc.database;
  const fields = {
    hostname: req.hostname,
    osVersion: `${req.os.platform} ${req.os.release} ${req.os.arch}`,
    agentVersion: req.agentVersion,
    volumes: req.volumes,
    freeBytes: req.freeBytes,
    lastError: req.lastError ?? null,
    status: { pendingChanges: req.pendingChanges },
    lastHeartbeatAt: now,
  };
  await db.transaction(async (tx) => {
    await tx
      .insert(schema.machineAgents)
      .values({ machineId: m.machineId, mspId: m.mspId, customerId: m.customerId, ...fields })
      .onConflictDoUpdate({ target: schema.machineAgents.machineId, set: fields });
    await tx
      .update(schema.machines)
      .set({ lastSeenAt: now, agentVersion: req.agentVersion })
      .where(and(eq(schema.machines.id, m.machineId), scopeToCustomer(schema.machines, m)));
  });
  const { etag } = await effectivePolicy(db, m);
  // Self-heal: every machine of the customer is asked; whichever still has the data re-uploads it.
  const bad = await db
    .select({ chunkId: schema.badChunks.chunkId })
    .from(schema.badChunks)
    .where(and(scopeToCustomer(schema.badChunks, m), isNull(schema.badChunks.healedAt)))
    .limit(MAX_HEAL_IDS);
  return { serverTime: now.toISOString(), policyEtag: etag, healChunkIds: bad.map((r) => r.chunkId.toString("hex")) };
}

/** Create/write/add/read on the machine's own customer container only; never delete or list. */
export async function uploadSession(svc: AgentServices, m: MachineContext): Promise<UploadSession> {
  const { base, name } = svc.blobs.container(m.customerId);
  const sas = await base.createContainerUploadSas({ container: name, expiresInMinutes: svc.sasMinutes });
  return { sasUrl: sas.url, container: sas.container, expiresAt: sas.expiresOn.toISOString() };
}

/** `ids` as a list or as concatenated 64-hex-digit ids (the agent's `idsHex`, passed on as it came). */
export async function missingChunks(svc: AgentServices, m: MachineContext, ids: string[] | string): Promise<string[]> {
  return new PgIndex(svc.database.db, m).missing(ids);
}

/**
 * Indexes a pack the agent uploaded, after checking that the object exists
 * in the customer's container with exactly the reported size. Re-reporting
 * the same pack is harmless (lost replies are retried).
 */
export async function reportPack(svc: AgentServices, m: MachineContext, req: PackReport): Promise<{ indexed: number }> {
  const { store } = svc.blobs.container(m.customerId);
  const meta = await store.head(packObjectName(req.packId));
  if (!meta) throw unprocessable("pack_not_in_storage", `Pack ${req.packId} is not in the customer's container: upload it before reporting it`);
  if (meta.size !== req.size) {
    throw unprocessable("pack_size_mismatch", `Pack ${req.packId} is ${meta.size} bytes in storage, not ${req.size}: the upload is incomplete or the report is wrong`);
  }
  // Older agents send `entries`, newer ones `columns`: from here on both are columns, the form
  // PgIndex writes (no object per entry).
  const columns = req.columns ?? packColumns(req.entries!);
  const seen = new Set<string>();
  for (const id of splitHexIds(columns.ids)) {
    if (seen.has(id)) throw unprocessable("duplicate_entry", `Chunk ${id} appears twice in pack ${req.packId}`);
    seen.add(id);
  }
  await svc.database.db.transaction(async (tx) => {
    await new PgIndex(tx, m, { uploadedByMachineId: m.machineId }).indexReported({ id: req.packId, salt: Buffer.from(req.salt, "base64"), size: req.size, columns });
  });
  // After commit, so the worker never looks for rows that are not visible yet. The pack's
  // `verify_state = 'pending'` was written in the transaction: if this enqueue is lost, the
  // worker's sweep still finds the pack.
  if (svc.onPackIndexed) {
    try {
      await svc.onPackIndexed({ mspId: m.mspId, customerId: m.customerId, packId: req.packId });
    } catch (err) {
      svc.log(`could not enqueue verification of pack ${req.packId} (the sweep will)`, err);
    }
  }
  return { indexed: columns.offsets.length };
}

/**
 * Commits a recovery point: idempotent by (machine, clientPointId); refused
 * with the missing ids while any chunk it names is not indexed, and when its
 * sealed manifest is not in the container.
 */
export async function commitPoint(svc: AgentServices, m: MachineContext, req: CommitPointRequest): Promise<{ pointId: string; created: boolean }> {
  const { db } = svc.database;
  const rp = schema.recoveryPoints;
  const existing = async () =>
    (
      await db
        .select({ id: rp.id })
        .from(rp)
        .where(and(scopeToCustomer(rp, m), eq(rp.machineId, m.machineId), eq(rp.clientPointId, req.clientPointId)))
    )[0];
  const before = await existing();
  if (before) return { pointId: before.id, created: false };

  // One hex string (current agents send chunkIdsHex): no per-id strings for ~60k ids.
  const ids = req.manifest.rootTree + req.manifest.volumes.map((v) => v.map).join("") + (req.chunkIdsHex ?? req.chunkIds?.join("") ?? "");
  const missing = await new PgIndex(db, m).missing(ids);
  if (missing.length > 0) {
    throw conflict("missing_chunks", `${missing.length} chunk(s) this point references are not indexed: report their packs first`, missing);
  }
  const { store } = svc.blobs.container(m.customerId);
  if (!(await store.head(snapshotObjectName(req.manifest.snapshotId)))) {
    throw unprocessable("snapshot_not_in_storage", `Manifest snapshots/${req.manifest.snapshotId} is not in the customer's container: write it before committing`);
  }
  const { manifest } = req;
  const [row] = await db
    .insert(rp)
    .values({
      mspId: m.mspId,
      customerId: m.customerId,
      machineId: m.machineId,
      clientPointId: req.clientPointId,
      snapshotId: manifest.snapshotId,
      manifest,
      time: new Date(manifest.time),
      consistency: manifest.consistency,
      stats: manifest.stats,
      errors: manifest.errors,
    })
    .onConflictDoNothing({ target: [rp.machineId, rp.clientPointId] })
    .returning({ id: rp.id });
  if (row) return { pointId: row.id, created: true };
  // Lost a race with a retry of the same commit: that one is the point.
  const raced = await existing();
  if (!raced) throw new Error("recovery point vanished while committing");
  return { pointId: raced.id, created: false };
}

// ── restore jobs ─────────────────────────────────────────────────────────────

export type NewRestoreJob = {
  machineId: string;
  recoveryPointId: string;
  paths: string[];
  destination: { kind: "original" } | { kind: "folder"; path: string };
  conflict: "overwrite" | "skip" | "keep-both";
  requestedByUserId?: string | null;
};

/** For the portal: both the target machine and the point must belong to the scope's customer. */
export async function createRestoreJob(tx: Tx, scope: { mspId: string; customerId: string }, job: NewRestoreJob) {
  const [machine] = await tx
    .select({ id: schema.machines.id })
    .from(schema.machines)
    .where(and(eq(schema.machines.id, job.machineId), scopeToCustomer(schema.machines, scope)));
  if (!machine) throw notFound("Machine");
  const [point] = await tx
    .select({ id: schema.recoveryPoints.id })
    .from(schema.recoveryPoints)
    .where(and(eq(schema.recoveryPoints.id, job.recoveryPointId), scopeToCustomer(schema.recoveryPoints, scope)));
  if (!point) throw notFound("Recovery point");
  const [row] = await tx
    .insert(schema.restoreJobs)
    .values({
      ...scope,
      machineId: job.machineId,
      recoveryPointId: job.recoveryPointId,
      paths: job.paths,
      destination: job.destination.kind === "folder" ? job.destination.path : null,
      conflict: job.conflict,
      requestedByUserId: job.requestedByUserId ?? null,
    })
    .returning();
  return row!;
}

/**
 * The machine's next restore: one it already claimed and did not finish
 * (the agent restarted) comes first, else the oldest queued one is claimed.
 */
export async function nextRestoreJob(svc: AgentServices, m: MachineContext, now = new Date()): Promise<RestoreJob | null> {
  const { db } = svc.database;
  const j = schema.restoreJobs;
  const mine = and(scopeToCustomer(j, m), eq(j.machineId, m.machineId));
  const job = await db.transaction(async (tx) => {
    const [running] = await tx.select().from(j).where(and(mine, eq(j.state, "running"))).orderBy(asc(j.createdAt)).limit(1);
    if (running) return running;
    const [queued] = await tx.select().from(j).where(and(mine, eq(j.state, "queued"))).orderBy(asc(j.createdAt)).limit(1).for("update", { skipLocked: true });
    if (!queued) return null;
    const [claimed] = await tx.update(j).set({ state: "running", claimedAt: now }).where(and(eq(j.id, queued.id), eq(j.state, "queued"))).returning();
    return claimed ?? null;
  });
  if (!job) return null;
  const [point] = await db
    .select({ snapshotId: schema.recoveryPoints.snapshotId })
    .from(schema.recoveryPoints)
    .where(and(eq(schema.recoveryPoints.id, job.recoveryPointId), scopeToCustomer(schema.recoveryPoints, m)));
  if (!point?.snapshotId) {
    await finishJob(svc, m, job.id, "failed", { ok: false, error: "the recovery point has no manifest in storage" }, now);
    return null;
  }
  const sas = await svc.blobs.readSas(m.customerId, svc.sasMinutes);
  return {
    id: job.id,
    pointId: job.recoveryPointId,
    snapshotId: point.snapshotId,
    paths: job.paths,
    destination: job.destination === null ? { kind: "original" } : { kind: "folder", path: job.destination },
    conflict: job.conflict,
    readSasUrl: sas.url,
    expiresAt: sas.expiresOn.toISOString(),
  };
}

async function jobOf(svc: AgentServices, m: MachineContext, jobId: string) {
  const j = schema.restoreJobs;
  const [job] = await svc.database.db.select().from(j).where(and(eq(j.id, jobId), scopeToCustomer(j, m), eq(j.machineId, m.machineId)));
  if (!job) throw notFound("Restore job");
  return job;
}

export async function restoreProgress(svc: AgentServices, m: MachineContext, jobId: string, req: RestoreProgressReport, now = new Date()): Promise<void> {
  const job = await jobOf(svc, m, jobId);
  if (job.state === "cancelled") throw conflict("job_cancelled", "This restore job was cancelled in the portal: stop it");
  if (job.state !== "queued" && job.state !== "running") throw conflict("job_finished", `This restore job already ${job.state}`);
  const j = schema.restoreJobs;
  await svc.database.db
    .update(j)
    .set({ state: "running", claimedAt: job.claimedAt ?? now, progress: { ...req, at: now.toISOString() } })
    .where(and(eq(j.id, jobId), scopeToCustomer(j, m), inArray(j.state, ["queued", "running"])));
}

/** Idempotent for the same outcome: a retried report after a lost reply is accepted. */
export async function restoreResult(svc: AgentServices, m: MachineContext, jobId: string, req: RestoreResultReport, now = new Date()): Promise<void> {
  const job = await jobOf(svc, m, jobId);
  const state = req.ok ? "succeeded" : "failed";
  if (job.state === state) return;
  if (job.state !== "queued" && job.state !== "running") throw conflict("job_finished", `This restore job already ${job.state}`);
  await finishJob(svc, m, jobId, state, { ...req }, now);
}

async function finishJob(svc: AgentServices, m: MachineContext, jobId: string, state: "succeeded" | "failed", result: Record<string, unknown>, now: Date) {
  const j = schema.restoreJobs;
  await svc.database.db.update(j).set({ state, result, finishedAt: now }).where(and(eq(j.id, jobId), scopeToCustomer(j, m)));
}

// ── events ───────────────────────────────────────────────────────────────────

export async function recordEvents(svc: AgentServices, m: MachineContext, events: AgentEvent[]): Promise<void> {
  await svc.database.db.insert(schema.agentEvents).values(
    events.map((e) => ({
      mspId: m.mspId,
      customerId: m.customerId,
      machineId: m.machineId,
      time: new Date(e.time),
      level: e.level,
      kind: e.kind,
      message: e.message,
      details: e.path ? { path: e.path } : {},
    })),
  );
}
