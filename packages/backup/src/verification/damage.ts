/**
 * What a bad chunk costs: which recovery points and files can no longer be
 * restored whole. Found by walking every point's trees (trees are chunks
 * too: a bad tree makes its whole subtree unreadable) and volume maps, once
 * per distinct tree, because unchanged subtrees are shared between points.
 *
 * Recording the damage is one transaction: the chunks become open
 * `bad_chunks` rows (heal requests in every agent heartbeat), their index
 * entries in the bad pack are removed (so `chunks/missing` names them and a
 * commit that references them is refused with 409 until a fresh copy is
 * indexed), and the affected points turn `damaged` with their files listed.
 */
import { type DbOrTx, schema, scopeToCustomer } from "@tidemark/db";
import type { PointDamage } from "@tidemark/db/schema";
import { and, asc, eq, gte, inArray, isNull, sql } from "drizzle-orm";
import { PointFiles } from "../browse";
import { loadVolumeMap, type Repository } from "../engine";
import type { CustomerRepo } from "./context";
import { type PgRepository, pgRepository } from "./pg-repository";

export type BadChunk = { chunkId: string; packId: string; reason: "corrupt" | "missing"; problem?: string };

export type AffectedPoint = { pointId: string; machineId: string; machineName: string; time: Date; chunkIds: string[]; files: string[] };

export type DamageReport = {
  badChunks: BadChunk[];
  packs: string[];
  points: AffectedPoint[];
  /** Distinct affected paths across all points. */
  files: string[];
};

/** A point lists at most this many files (the rest are counted): the portal shows them, the alert names the first few. */
export const MAX_FILES_PER_POINT = 1000;
const WHOLE_SUBTREE = "**";

type Found = { files: string[]; chunks: string[] };

/** Walks trees through the PostgreSQL index, memoised per tree id. */
class DamageWalker {
  private readonly trees = new Map<string, Promise<Found>>();
  private readonly maps = new Map<string, Promise<string[]>>();
  private readonly files: PointFiles;
  private readonly volumes: PgRepository;

  constructor(
    private readonly repo: CustomerRepo,
    private readonly bad: Set<string>,
  ) {
    this.files = new PointFiles(repo.db, repo.store, repo.keys, repo.scope);
    this.volumes = pgRepository(repo);
  }

  /** Relative paths under this tree that need a bad chunk; "**" stands for "everything below". */
  tree(id: string): Promise<Found> {
    let p = this.trees.get(id);
    if (!p) {
      p = this.walk(id);
      this.trees.set(id, p);
    }
    return p;
  }

  private async walk(id: string): Promise<Found> {
    if (this.bad.has(id)) return { files: [WHOLE_SUBTREE], chunks: [id] };
    let nodes;
    try {
      nodes = (await this.files.tree(id)).nodes;
    } catch {
      // Unreadable for another reason (already unindexed by an earlier run): its subtree is lost too,
      // but it is not one of this run's chunks, so it is reported without a chunk id.
      return { files: [WHOLE_SUBTREE], chunks: [] };
    }
    const files: string[] = [];
    const chunks: string[] = [];
    for (const n of nodes) {
      if (n.type === "file") {
        const hit = (n.content ?? []).filter((c) => this.bad.has(c));
        if (hit.length > 0) {
          files.push(n.name);
          chunks.push(...hit);
        }
      } else if (n.type === "dir" && n.subtree) {
        const sub = await this.tree(n.subtree);
        for (const f of sub.files) files.push(f === WHOLE_SUBTREE ? `${n.name}/${WHOLE_SUBTREE}` : `${n.name}/${f}`);
        chunks.push(...sub.chunks);
      }
    }
    return { files, chunks };
  }

  /** Bad chunk ids a volume image needs (its map, the map's pieces, its blocks). */
  volume(mapId: string): Promise<string[]> {
    let p = this.maps.get(mapId);
    if (!p) {
      p = this.volumeWalk(mapId);
      this.maps.set(mapId, p);
    }
    return p;
  }

  private async volumeWalk(mapId: string): Promise<string[]> {
    if (this.bad.has(mapId)) return [mapId];
    const hit = new Set<string>();
    const { repository } = this.volumes;
    const reader = {
      readBlob: (id: string) => {
        if (this.bad.has(id)) hit.add(id);
        return repository.readBlob(id);
      },
    } as unknown as Repository;
    try {
      for (const b of await loadVolumeMap(reader, mapId)) if (b.id && this.bad.has(b.id)) hit.add(b.id);
    } catch {
      // A map piece that does not read: the whole image is affected; `hit` already holds the piece if it is bad.
      if (hit.size === 0) return [mapId];
    }
    return [...hit];
  }
}

type PointManifest = { rootTree?: string; volumes?: Array<{ name: string; map: string }> };

/** Every point of the customer that needs one of `bad`, with the files that need them. */
export async function affectedPoints(repo: CustomerRepo, bad: Set<string>, only: { healthyCreatedSince?: Date } = {}): Promise<AffectedPoint[]> {
  const rp = schema.recoveryPoints;
  const points = await repo.db
    .select({ id: rp.id, machineId: rp.machineId, machineName: schema.machines.name, time: rp.time, manifest: rp.manifest })
    .from(rp)
    .innerJoin(schema.machines, eq(schema.machines.id, rp.machineId))
    .where(
      and(
        scopeToCustomer(rp, repo.scope),
        ...(only.healthyCreatedSince ? [eq(rp.health, "ok"), gte(rp.createdAt, only.healthyCreatedSince)] : []),
      ),
    )
    .orderBy(asc(rp.time));
  const walker = new DamageWalker(repo, bad);
  const out: AffectedPoint[] = [];
  for (const p of points) {
    const m = p.manifest as PointManifest;
    const files: string[] = [];
    const chunks = new Set<string>();
    if (m.rootTree) {
      const found = await walker.tree(m.rootTree);
      // The root tree lists one entry per source path: "**" at the root means the whole point.
      files.push(...found.files.map((f) => (f === WHOLE_SUBTREE ? "(whole point: its root directory listing is damaged)" : f)));
      for (const c of found.chunks) chunks.add(c);
    }
    for (const v of m.volumes ?? []) {
      const hit = await walker.volume(v.map);
      if (hit.length > 0) {
        files.push(`[volume image] ${v.name}`);
        for (const c of hit) chunks.add(c);
      }
    }
    if (files.length > 0) {
      out.push({ pointId: p.id, machineId: p.machineId, machineName: p.machineName, time: p.time, chunkIds: [...chunks], files: files.slice(0, MAX_FILES_PER_POINT) });
    }
  }
  return out;
}

/** Rows per statement for id lists. */
const BATCH = 2000;

/**
 * Records bad chunks found in storage and the damage they cause, and raises
 * the customer's corruption alert. Call it with what one scrub / check found.
 */
export async function recordDamage(repo: CustomerRepo, bad: BadChunk[], now = new Date()): Promise<DamageReport> {
  const unique = new Map(bad.map((b) => [b.chunkId, b]));
  const list = [...unique.values()];
  if (list.length === 0) return { badChunks: [], packs: [], points: [], files: [] };
  // Walk before unindexing: trees that are still fine are read through the index.
  const points = await affectedPoints(repo, new Set(unique.keys()));
  const { db, scope } = repo;
  const report: DamageReport = {
    badChunks: list,
    packs: [...new Set(list.map((b) => b.packId))],
    points,
    files: [...new Set(points.flatMap((p) => p.files))],
  };
  // No point needs any of them (garbage prune has not collected yet): they are dropped from the index and
  // recorded, but there is nothing to heal, so no agent is asked to upload them (healed_at = detection).
  const unneeded = points.length === 0;
  await db.transaction(async (tx) => {
    const bc = schema.badChunks;
    for (let i = 0; i < list.length; i += BATCH) {
      await tx
        .insert(bc)
        .values(list.slice(i, i + BATCH).map((b) => ({ ...scope, chunkId: Buffer.from(b.chunkId, "hex"), packId: b.packId, reason: b.reason, detectedAt: now, healedAt: unneeded ? now : null })))
        .onConflictDoUpdate({
          target: [bc.customerId, bc.chunkId],
          set: { packId: sql`excluded.pack_id`, reason: sql`excluded.reason`, detectedAt: sql`excluded.detected_at`, healedAt: sql`excluded.healed_at` },
        });
    }
    // Only the entry in the pack found bad: a fresh copy indexed meanwhile in another pack stays.
    const c = schema.chunkIndex;
    const byPack = new Map<string, Buffer[]>();
    for (const b of list) {
      const ids = byPack.get(b.packId) ?? [];
      ids.push(Buffer.from(b.chunkId, "hex"));
      byPack.set(b.packId, ids);
    }
    for (const [packId, ids] of byPack) {
      for (let i = 0; i < ids.length; i += BATCH) {
        await tx.delete(c).where(and(scopeToCustomer(c, scope), eq(c.packId, packId), inArray(c.chunkId, ids.slice(i, i + BATCH))));
      }
    }
    const rp = schema.recoveryPoints;
    for (const p of points) {
      const [cur] = await tx.select({ health: rp.health, damage: rp.damage }).from(rp).where(and(scopeToCustomer(rp, scope), eq(rp.id, p.pointId)));
      // A point damaged earlier keeps what it had: the new finding adds to it.
      const prev = cur?.health === "damaged" ? cur.damage : null;
      const damage: PointDamage = {
        chunkIds: [...new Set([...(prev?.chunkIds ?? []), ...p.chunkIds])],
        files: [...new Set([...(prev?.files ?? []), ...p.files])].slice(0, MAX_FILES_PER_POINT),
        detectedAt: prev?.detectedAt ?? now.toISOString(),
      };
      await tx.update(rp).set({ health: "damaged", damage }).where(and(scopeToCustomer(rp, scope), eq(rp.id, p.pointId)));
    }
    // In the same transaction: a failed alert rolls the finding back, so the retried scrub finds it again.
    await raiseCorruption(repo, tx, report);
  });
  repo.log(`verification: customer ${scope.customerId}: ${report.badChunks.length} bad chunk(s) in ${report.packs.length} pack(s), ${report.points.length} point(s) damaged`);
  return report;
}

/** How many names an alert carries: enough to act on, small enough for an SMS-sized summary to stay readable. */
const ALERT_FILES = 50;
const ALERT_POINTS = 50;

async function raiseCorruption(repo: CustomerRepo, db: DbOrTx, r: DamageReport): Promise<void> {
  const { scope } = repo;
  const [customer] = await db.select({ name: schema.customers.name }).from(schema.customers).where(eq(schema.customers.id, scope.customerId));
  const machines = [...new Map(r.points.map((p) => [p.machineId, p.machineName])).entries()].map(([id, name]) => ({ id, name }));
  const customerName = customer?.name ?? scope.customerId;
  const what = r.points.length > 0 ? `${r.files.length} file(s) in ${r.points.length} recovery point(s)` : `${r.badChunks.length} stored chunk(s), no recovery point affected`;
  const reasons = [...new Set(r.badChunks.map((b) => b.reason))].join(" and ");
  await repo.alerts.raise({
    ...scope,
    // One machine named only when exactly one is affected; the details name them all.
    machineId: machines.length === 1 ? machines[0]!.id : null,
    condition: "corruption",
    // Critical when restores are affected; a warning when only unreferenced copies were lost.
    severity: r.points.length > 0 ? "critical" : "warning",
    subject: scope.customerId,
    title: `Corruption found in ${customerName}'s backups: ${what}`,
    details: {
      customer: { id: scope.customerId, name: customerName },
      machines,
      reason: reasons,
      packs: r.packs,
      badChunks: r.badChunks.length,
      problems: r.badChunks.slice(0, 10).map((b) => ({ chunkId: b.chunkId, packId: b.packId, reason: b.reason, problem: b.problem })),
      files: r.files.slice(0, ALERT_FILES),
      moreFiles: Math.max(0, r.files.length - ALERT_FILES),
      recoveryPoints: r.points.slice(0, ALERT_POINTS).map((p) => ({ id: p.pointId, machine: p.machineName, machineId: p.machineId, time: p.time.toISOString(), files: p.files.slice(0, 10) })),
      morePoints: Math.max(0, r.points.length - ALERT_POINTS),
      selfHeal: "The chunks were removed from the index; the customer's agents are asked to upload them again. The alert resolves itself when every affected point is whole.",
    },
  }, db);
}

/** Open bad chunks of a customer (hex ids): the heal requests. */
export async function openBadChunks(repo: Pick<CustomerRepo, "db" | "scope">): Promise<Set<string>> {
  const bc = schema.badChunks;
  const rows = await repo.db
    .select({ id: sql<string>`encode(${bc.chunkId}, 'hex')` })
    .from(bc)
    .where(and(scopeToCustomer(bc, repo.scope), isNull(bc.healedAt)));
  return new Set(rows.map((r) => r.id));
}


/**
 * Points committed after a chunk was found bad can still need it: the server
 * checks the ids a commit lists, not the unchanged subtrees an agent reuses
 * before it has handled the heal request. Each scrub run re-walks points
 * created since the oldest open bad chunk (only while some are open) and
 * marks those that need one damaged, like the scrub's own findings.
 */
export async function damageNewPoints(repo: CustomerRepo): Promise<AffectedPoint[]> {
  const bc = schema.badChunks;
  const rows = await repo.db
    .select({ id: sql<string>`encode(${bc.chunkId}, 'hex')`, detectedAt: bc.detectedAt })
    .from(bc)
    .where(and(scopeToCustomer(bc, repo.scope), isNull(bc.healedAt)));
  if (rows.length === 0) return [];
  const since = new Date(Math.min(...rows.map((r) => r.detectedAt.getTime())) - 60_000);
  const points = await affectedPoints(repo, new Set(rows.map((r) => r.id)), { healthyCreatedSince: since });
  const rp = schema.recoveryPoints;
  const detectedAt = new Date().toISOString();
  for (const p of points) {
    await repo.db
      .update(rp)
      .set({ health: "damaged", damage: { chunkIds: p.chunkIds, files: p.files, detectedAt } })
      .where(and(scopeToCustomer(rp, repo.scope), eq(rp.id, p.pointId), eq(rp.health, "ok")));
  }
  if (points.length > 0) repo.log(`verification: customer ${repo.scope.customerId}: ${points.length} newer point(s) need bad chunks and are marked damaged`);
  return points;
}
