/**
 * Mark-and-sweep garbage collection with a two-phase delete.
 *
 *  1. Mark: every blob reachable from a point (trees, file chunks, volume
 *     maps and blocks) is used.
 *  2. Condemn: a pack with no used blob, or too few used bytes (then its used
 *     blobs are first copied into new packs: "repack"), gets a `trash/<pack>`
 *     marker holding the time. New backups never deduplicate against a
 *     condemned pack, so after the marker only backups that started before it
 *     can still come to reference its blobs.
 *  3. Sweep (a later run, after `grace`): a condemned pack is deleted once
 *     every used blob in it has a copy elsewhere (blobs a concurrent backup
 *     came to need meanwhile are repacked first). The index is rewritten
 *     without it BEFORE the pack is deleted, so a crash leaves at worst an
 *     unindexed pack, never an index entry pointing nowhere.
 *
 * Assumption, as in kopia: a backup finishes within the grace period.
 *
 * Only one prune runs at a time: see PruneLock.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { BlobExistsError, type BlobStore } from "@tidemark/storage";
import { loadVolumeMap } from "./backup/volume";
import { EngineError, RepositoryError } from "./errors";
import type { IndexEntry, IndexedPack } from "./index/index";
import { mapLimit, writeIndexObject } from "./index/repo-index";
import { BLOB_DATA, packKeyName, type PackBlob } from "./pack/format";
import { openBlob } from "./pack/reader";
import { TRASH_PREFIX, type Repository } from "./repository";

export const DEFAULT_GRACE_MS = 24 * 3600_000;

export interface PruneOptions {
  graceMs?: number;
  /** Injected clock (tests of the grace period). */
  now?: () => Date;
  /** Repack a pack whose used bytes are below this fraction of its size. */
  repackBelow?: number;
  dryRun?: boolean;
  /** A prune lock not refreshed for this long is stale and may be taken over (default 30 min; refreshed every quarter of it). */
  lockStaleMs?: number;
}

export interface PruneReport {
  points: number;
  usedBlobs: number;
  packs: number;
  /** Newly condemned in this run. */
  condemned: string[];
  /** Packs whose used blobs were copied to new packs in this run. */
  repacked: string[];
  deleted: string[];
  /** Packs in storage that no index named (interrupted backups), deleted after the grace period. */
  unindexedDeleted: string[];
  reclaimedBytes: number;
  indexRewritten: boolean;
}

const trashSchema = z.object({ time: z.string() });

export const LOCK_PREFIX = "locks/prune-";
export const DEFAULT_LOCK_STALE_MS = 30 * 60_000;
const lockSchema = z.object({ host: z.string(), pid: z.number(), time: z.string(), token: z.string() });

/** Another prune holds the repository's prune lock. */
export class PruneLockedError extends EngineError {}

/**
 * Two prunes at once could each condemn, repack and delete on a different
 * view of the index. The lock is a generation of create-only objects
 * `locks/prune-<n>`: the holder of the highest generation owns it and
 * rewrites it (refresh) every quarter of the stale timeout. A lock not
 * refreshed for that long is taken over by creating generation n+1 —
 * create-only again, so of two prunes racing for a stale lock exactly one
 * wins. A holder that sees a newer generation has lost the lock and stops
 * before deleting anything.
 */
export class PruneLock {
  lost = false;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly store: BlobStore,
    readonly key: string,
    private readonly gen: number,
    private readonly token: string,
    staleMs: number,
  ) {
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), Math.max(1000, staleMs / 4));
    this.timer.unref();
  }

  static async acquire(store: BlobStore, staleMs = DEFAULT_LOCK_STALE_MS): Promise<PruneLock> {
    const gens = await lockGenerations(store);
    const top = gens.at(-1);
    let next = 1;
    if (top !== undefined) {
      const held = await readLock(store, top);
      const age = held ? Date.now() - Date.parse(held.time) : Infinity;
      if (held && age < staleMs) {
        throw new PruneLockedError(
          `another prune is running on this repository (host ${held.host}, pid ${held.pid}, lock refreshed ${Math.round(age / 1000)} s ago); ` +
            `try again when it has finished (a lock not refreshed for ${Math.round(staleMs / 60_000)} min is taken over)`,
        );
      }
      next = top + 1;
    }
    const token = randomBytes(12).toString("hex");
    const key = lockKey(next);
    try {
      await store.put(key, lockBody(token), { ifNotExists: true });
    } catch (e) {
      if (e instanceof BlobExistsError) throw new PruneLockedError("another prune took the repository lock at the same moment; try again when it has finished");
      throw e;
    }
    // Older generations are stale by now: tidy them up (best effort; only the highest counts).
    for (const g of gens) await store.delete(lockKey(g)).catch(() => undefined);
    return new PruneLock(store, key, next, token, staleMs);
  }

  /** Rewrites the lock's time, unless a newer generation shows the lock was taken over. */
  async refresh(): Promise<void> {
    if (this.lost) return;
    const top = (await lockGenerations(this.store)).at(-1);
    if (top !== this.gen) {
      this.lost = true;
      return;
    }
    await this.store.put(this.key, lockBody(this.token));
  }

  /** Throws when the lock was taken over (this prune stalled past the stale timeout). */
  async ensureHeld(): Promise<void> {
    await this.refresh();
    if (this.lost) throw new PruneLockedError("prune lost the repository lock to another prune (this one stalled past the stale timeout); nothing more was deleted");
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    if (!this.lost) await this.store.delete(this.key);
  }
}

const lockKey = (gen: number) => `${LOCK_PREFIX}${String(gen).padStart(10, "0")}`;
const lockBody = (token: string) => Buffer.from(JSON.stringify({ host: hostname(), pid: process.pid, time: new Date().toISOString(), token }));

async function lockGenerations(store: BlobStore): Promise<number[]> {
  const gens: number[] = [];
  for await (const m of store.list(LOCK_PREFIX)) {
    const g = Number(m.key.slice(LOCK_PREFIX.length));
    if (Number.isSafeInteger(g) && g > 0) gens.push(g);
  }
  return gens.sort((a, b) => a - b);
}

/** The lock's holder, or null when it is unreadable (treated as stale: a half-written lock must not block prune forever). */
async function readLock(store: BlobStore, gen: number): Promise<z.infer<typeof lockSchema> | null> {
  try {
    const r = lockSchema.safeParse(JSON.parse((await store.get(lockKey(gen))).toString("utf8")));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** Every blob id reachable from any point. Throws if a tree cannot be read: deciding on partial knowledge would delete live data. */
export async function markUsed(repo: Repository): Promise<{ used: Set<string>; points: number }> {
  const used = new Set<string>();
  const points = await repo.listSnapshots();
  const walk = async (treeId: string): Promise<void> => {
    if (used.has(treeId)) return;
    used.add(treeId);
    const tree = await repo.loadTree(treeId);
    for (const n of tree.nodes) {
      for (const c of n.content ?? []) used.add(c);
      if (n.subtree) await walk(n.subtree);
    }
  };
  for (const { snapshot } of points) {
    await walk(snapshot.tree);
    for (const v of snapshot.volumes) {
      used.add(v.map);
      // Pieces are listed in the map blob; loadVolumeMap reads them, so mark them via a re-read of the map.
      const pieces = z.object({ pieces: z.array(z.string()) }).parse(JSON.parse((await repo.readBlob(v.map, BLOB_DATA)).toString("utf8"))).pieces;
      for (const p of pieces) used.add(p);
      for (const b of await loadVolumeMap(repo, v.map)) if (b.id) used.add(b.id);
    }
  }
  return { used, points: points.length };
}

export async function prune(repo: Repository, opts: PruneOptions = {}): Promise<PruneReport> {
  const lock = await PruneLock.acquire(repo.store, opts.lockStaleMs);
  try {
    return await pruneLocked(repo, opts, lock);
  } finally {
    await lock.release();
  }
}

async function pruneLocked(repo: Repository, opts: PruneOptions, lock: PruneLock): Promise<PruneReport> {
  const now = (opts.now ?? (() => new Date()))();
  const grace = opts.graceMs ?? DEFAULT_GRACE_MS;
  const repackBelow = opts.repackBelow ?? 0.5;
  const store = repo.store;

  const trash = new Map<string, number>();
  for await (const m of store.list(TRASH_PREFIX)) {
    const pack = m.key.slice(TRASH_PREFIX.length);
    const t = trashSchema.safeParse(JSON.parse((await store.get(m.key)).toString("utf8")));
    trash.set(pack, t.success ? Date.parse(t.data.time) : now.getTime());
    repo.condemned.add(pack);
  }
  await repo.index.reload();
  const { used, points } = await markUsed(repo);

  // Used blobs per pack. Every stored copy outside condemned packs counts: which copy is whole is
  // only known by reading it (after a self-heal one copy is corrupt), so prune never drops a copy a
  // point may need. A copy in a condemned pack counts only when it is the chosen one (no other left).
  const usedIn = new Map<string, Array<{ id: string; e: IndexEntry }>>();
  for (const id of used) {
    // Not indexed (no copies): check reports it; nothing prune can do.
    for (const c of repo.index.copies(id).filter((c, i) => i === 0 || !repo.condemned.has(c.pack))) {
      let l = usedIn.get(c.pack);
      if (!l) usedIn.set(c.pack, (l = []));
      l.push({ id, e: c });
    }
  }

  const report: PruneReport = { points, usedBlobs: used.size, packs: 0, condemned: [], repacked: [], deleted: [], unindexedDeleted: [], reclaimedBytes: 0, indexRewritten: false };
  const toCondemn: string[] = [];
  const toRepack: string[] = [];
  const toDelete: string[] = [];
  for (const p of repo.index.packs()) {
    report.packs++;
    const ids = usedIn.get(p.id) ?? [];
    const since = trash.get(p.id);
    if (since !== undefined) {
      if (now.getTime() - since < grace) continue;
      if (ids.length) toRepack.push(p.id); // needed by a backup that started before the mark
      toDelete.push(p.id);
      continue;
    }
    const usedBytes = ids.reduce((a, u) => a + u.e.length, 0);
    if (ids.length === 0) toCondemn.push(p.id);
    else if (usedBytes < p.size * repackBelow) {
      toCondemn.push(p.id);
      toRepack.push(p.id);
    }
  }
  if (opts.dryRun) {
    report.condemned = toCondemn;
    report.repacked = toRepack;
    report.deleted = toDelete;
    return report;
  }

  await lock.ensureHeld();
  // Mark before copying: from here on no new backup relies on these packs.
  for (const pack of toCondemn) {
    try {
      await store.put(TRASH_PREFIX + pack, Buffer.from(JSON.stringify({ time: now.toISOString() })), { ifNotExists: true });
    } catch (e) {
      if (!(e instanceof BlobExistsError)) throw e;
    }
    repo.condemned.add(pack);
    report.condemned.push(pack);
  }

  if (toRepack.length) {
    const saver = repo.newSaver();
    const repacking = new Set(toRepack);
    for (const pack of toRepack) {
      const bytes = await store.get(packKeyName(pack));
      const info = repo.index.packInfo(pack)!;
      const key = repo.packKey(pack, info.salt);
      for (const { id, e } of usedIn.get(pack) ?? []) {
        // Copies that outlive this run: outside condemned packs, or carried over by this repack.
        const stored = repo.index.copies(id).filter((c) => !repo.condemned.has(c.pack) || repacking.has(c.pack));
        let data: Buffer;
        try {
          data = openBlob(repo.keys, pack, key, { type: e.type, id: Buffer.from(id, "hex"), offset: e.offset }, bytes.subarray(e.offset, e.offset + e.length));
        } catch (x) {
          // A corrupt copy is not carried over; with no other copy prune stops before deleting anything.
          if (stored.some((c) => c.pack !== pack)) continue;
          throw x;
        }
        // Another copy elsewhere may be the corrupt one (nothing here has read it): keep this verified copy.
        if (stored.length > 1) repo.index.distrust([id]);
        await saver.save(e.type, id, data);
      }
      report.repacked.push(pack);
    }
    await saver.flush();
  }

  await lock.ensureHeld();
  if (toDelete.length) {
    const deleting = new Set(toDelete);
    for (const id of used) {
      const copies = repo.index.copies(id);
      if (copies.length && copies.every((c) => deleting.has(c.pack))) throw new RepositoryError(`prune: chunk ${id} would lose its only copy in pack ${copies[0]!.pack}; nothing was deleted`);
    }
    const oldObjects = [...repo.index.objects];
    const byPack = new Map<string, PackBlob[]>();
    for (const [id] of repo.index.entries()) {
      for (const e of repo.index.copies(id)) {
        if (deleting.has(e.pack)) continue;
        let l = byPack.get(e.pack);
        if (!l) byPack.set(e.pack, (l = []));
        l.push({ type: e.type, id: Buffer.from(id, "hex"), offset: e.offset, length: e.length, rawLength: e.rawLength });
      }
    }
    const packs: IndexedPack[] = [];
    for (const p of repo.index.packs()) {
      if (deleting.has(p.id)) continue;
      packs.push({ ...p, blobs: (byPack.get(p.id) ?? []).sort((a, b) => a.offset - b.offset) });
    }
    const written = await writeIndexObject(store, repo.keys, packs);
    report.indexRewritten = true;
    await mapLimit(
      oldObjects.filter((o) => o !== written),
      8,
      (o) => store.delete(o),
    );
    await mapLimit(toDelete, 8, async (pack) => {
      report.reclaimedBytes += repo.index.packInfo(pack)?.size ?? 0;
      await store.delete(packKeyName(pack));
      await store.delete(TRASH_PREFIX + pack);
      report.deleted.push(pack);
    });
  }

  // Packs no index names: leftovers of interrupted backups once they are older than the grace period.
  await lock.ensureHeld();
  for await (const m of store.list("data/")) {
    const pack = m.key.slice(m.key.lastIndexOf("/") + 1);
    if (repo.index.packInfo(pack)) continue;
    if (report.deleted.includes(pack)) continue;
    if (m.lastModified && now.getTime() - m.lastModified.getTime() >= grace) {
      await store.delete(m.key);
      report.unindexedDeleted.push(pack);
      report.reclaimedBytes += m.size;
    }
  }
  return report;
}
