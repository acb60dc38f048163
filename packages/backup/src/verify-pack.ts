/**
 * Cross-checks what the index says about a pack against the pack itself:
 * its bytes hash to its id, its trailer decrypts with the customer's key,
 * and every indexed entry is exactly one of the trailer's entries. An agent
 * that reported wrong offsets (bug or malice) would otherwise make every
 * machine of the customer deduplicate against chunks that are not there.
 * Reads the whole pack: meant for the worker, after `POST packs`.
 */
import { type DbOrTx, schema, scopeToCustomer } from "@tidemark/db";
import { BlobNotFoundError, type BlobStore } from "@tidemark/storage";
import { createHash } from "node:crypto";
import { and, asc, eq, inArray, lte, sql } from "drizzle-orm";
import { type BlobType, deriveKeys, openBlob, packKey, packKeyName, parsePack, type RepoKeys } from "./engine";
import { type CustomerScope, customerDataKey } from "./kek";
import type { AgentServices } from "./services";
import { type AlertSink, noAlerts } from "./verification/alerts";
import { healChunks } from "./verification/heal";

export type PackVerification = { packId: string; ok: boolean; problems: string[] };

export async function verifyIndexedPack(db: DbOrTx, store: BlobStore, keys: RepoKeys, scope: CustomerScope, packId: string): Promise<PackVerification> {
  const problems: string[] = [];
  const [pack] = await db
    .select()
    .from(schema.packs)
    .where(and(scopeToCustomer(schema.packs, scope), eq(schema.packs.packId, packId)));
  if (!pack) return { packId, ok: false, problems: ["pack is not indexed"] };
  let bytes: Buffer;
  try {
    bytes = await store.get(packKeyName(packId));
  } catch (e) {
    if (e instanceof BlobNotFoundError) return { packId, ok: false, problems: ["pack object is missing from storage"] };
    throw e;
  }
  if (bytes.length !== pack.size) problems.push(`stored size ${bytes.length} differs from indexed size ${pack.size}`);
  let parsed;
  try {
    parsed = parsePack(keys, packId, bytes);
  } catch (e) {
    return { packId, ok: false, problems: [...problems, (e as Error).message] };
  }
  if (!parsed.salt.equals(pack.salt)) problems.push("indexed salt differs from the pack header");
  const inPack = new Map(parsed.blobs.map((b) => [b.id.toString("hex"), b]));
  const c = schema.chunkIndex;
  const rows = await db
    .select({ id: sql<string>`encode(${c.chunkId}, 'hex')`, offset: c.offset, length: c.length, rawLength: c.rawLength, type: c.type })
    .from(c)
    .where(and(scopeToCustomer(c, scope), eq(c.packId, packId)));
  for (const r of rows) {
    const b = inPack.get(r.id);
    if (!b) problems.push(`chunk ${r.id} is indexed in this pack but not in its trailer`);
    else if (b.offset !== r.offset || b.length !== r.length || b.rawLength !== r.rawLength || b.type !== r.type) {
      problems.push(`chunk ${r.id}: indexed at ${r.offset}+${r.length}, trailer says ${b.offset}+${b.length}`);
    }
  }
  return { packId, ok: problems.length === 0, problems };
}

// ── the worker's job: verify every entry an agent reported ──────────────────

export type PackRef = CustomerScope & { packId: string };
export type ReportedPackResult = {
  state: "verified" | "bad" | "skipped";
  checked: number;
  removed: string[];
  problems: string[];
  /** Bad chunks (found by the scrub) this pack brought back. */
  healed?: number;
};

/**
 * Opens every indexed entry of a reported pack at the offset the agent
 * claimed (GCM tag, decompression, keyed id recomputed, raw length): the
 * only proof that a chunk is really stored. Entries that fail are removed
 * from the index, so `chunks/missing` names them again and the customer's
 * agents re-upload them; the pack is marked bad and an error event is
 * recorded on the uploading machine. Entries that pass stay indexed even in
 * a bad pack: they were proven readable one by one. Idempotent: a pack that
 * is no longer pending is skipped.
 */
export async function verifyReportedPack(
  svc: Pick<AgentServices, "database" | "kek" | "blobs">,
  ref: PackRef,
  opts: { alerts?: AlertSink } = {},
): Promise<ReportedPackResult> {
  const { db } = svc.database;
  const scope = { mspId: ref.mspId, customerId: ref.customerId };
  const p = schema.packs;
  const [pack] = await db
    .select()
    .from(p)
    .where(and(scopeToCustomer(p, scope), eq(p.packId, ref.packId)));
  if (!pack || pack.verifyState !== "pending") return { state: "skipped", checked: 0, removed: [], problems: [] };
  const dataKey = await customerDataKey(db, svc.kek, scope);
  // A retryable failure, not a verdict on the agent: the job fails and pg-boss retries it.
  if (!dataKey) throw new Error(`customer ${ref.customerId} has no data key: cannot verify pack ${ref.packId}`);
  const keys = deriveKeys(dataKey);
  const { store } = svc.blobs.container(ref.customerId);
  const problems: string[] = [];
  let bytes: Buffer | null = null;
  try {
    bytes = await store.get(packKeyName(ref.packId));
  } catch (e) {
    if (!(e instanceof BlobNotFoundError)) throw e;
    problems.push("pack object is missing from storage");
  }
  if (bytes && createHash("sha256").update(bytes).digest("hex") !== ref.packId) problems.push("stored bytes do not hash to the pack id");
  const c = schema.chunkIndex;
  const rows = await db
    .select({ id: sql<string>`encode(${c.chunkId}, 'hex')`, offset: c.offset, length: c.length, rawLength: c.rawLength, type: c.type })
    .from(c)
    .where(and(scopeToCustomer(c, scope), eq(c.packId, ref.packId)));
  const key = packKey(keys.enc, pack.salt);
  const bad: string[] = [];
  for (const r of rows) {
    const why = bytes ? entryProblem(keys, ref.packId, key, bytes, r) : "pack object is missing";
    if (why) {
      bad.push(r.id);
      if (problems.length < 20) problems.push(`chunk ${r.id}: ${why}`);
    }
  }
  const state = bad.length === 0 && problems.length === 0 ? "verified" : "bad";
  // Conditional on still pending: the sweep and the immediate job may both run for one pack, and only
  // one of them may remove entries and record the event.
  const done = await db.transaction(async (tx) => {
    const [claimed] = await tx
      .update(p)
      .set({ verifyState: state, verifiedAt: new Date() })
      .where(and(scopeToCustomer(p, scope), eq(p.packId, ref.packId), eq(p.verifyState, "pending")))
      .returning({ packId: p.packId });
    if (!claimed) return false;
    if (bad.length > 0) {
      await tx
        .delete(c)
        .where(and(scopeToCustomer(c, scope), eq(c.packId, ref.packId), inArray(c.chunkId, bad.map((id) => Buffer.from(id, "hex")))));
    }
    if (state === "bad" && pack.uploadedByMachineId) {
      await tx.insert(schema.agentEvents).values({
        mspId: ref.mspId,
        customerId: ref.customerId,
        machineId: pack.uploadedByMachineId,
        time: new Date(),
        level: "error",
        kind: "pack.verification_failed",
        message: `Pack ${ref.packId} did not match its report: ${bad.length} of ${rows.length} chunk(s) removed from the index and will be uploaded again`,
        details: { packId: ref.packId, removed: bad.length, checked: rows.length, problems },
      });
    }
    return true;
  });
  if (!done) return { state: "skipped", checked: 0, removed: [], problems: [] };
  // Self-heal: entries proven readable here may be fresh copies of chunks the scrub found bad.
  const badSet = new Set(bad);
  const proven = rows.map((r) => r.id).filter((id) => !badSet.has(id));
  const heal = await healChunks(db, scope, proven, opts.alerts ?? noAlerts);
  return { state, checked: rows.length, removed: bad, problems, healed: heal.healed.length };
}

/** Why an indexed entry does not open at its offset in these pack bytes, or null when it does (shared with the scrub). */
export function entryProblem(
  keys: RepoKeys,
  packId: string,
  key: Buffer,
  bytes: Buffer,
  r: { id: string; offset: number; length: number; rawLength: number; type: number },
): string | null {
  if (r.offset < 0 || r.length <= 0 || r.offset + r.length > bytes.length) return `indexed range ${r.offset}+${r.length} is outside the ${bytes.length}-byte pack`;
  try {
    const data = openBlob(keys, packId, key, { type: r.type as BlobType, id: Buffer.from(r.id, "hex"), offset: r.offset }, bytes.subarray(r.offset, r.offset + r.length));
    if (data.length !== r.rawLength) return `raw length is ${data.length}, indexed ${r.rawLength}`;
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Packs still waiting for verification, oldest first: the sweep re-enqueues them (a lost job, a worker that was down). */
export async function pendingPacks(db: DbOrTx, olderThan: Date, limit: number): Promise<PackRef[]> {
  const p = schema.packs;
  return db
    .select({ mspId: p.mspId, customerId: p.customerId, packId: p.packId })
    .from(p)
    .where(and(eq(p.verifyState, "pending"), lte(p.createdAt, olderThan)))
    .orderBy(asc(p.createdAt))
    .limit(limit);
}

/** The worker's `packVerifier` option (apps/worker `startWorker`), over these services. */
export function packVerifier(svc: Pick<AgentServices, "database" | "kek" | "blobs">, opts: { graceMs?: number; alerts?: AlertSink } = {}) {
  return {
    verify: (ref: PackRef) => verifyReportedPack(svc, ref, { alerts: opts.alerts }),
    pending: (olderThan: Date, limit: number) => pendingPacks(svc.database.db, olderThan, limit),
    graceMs: opts.graceMs,
  };
}
