/**
 * Repository check.
 *
 * Structure: every index entry points into a pack that exists with the
 * indexed size; every point decodes; every tree reachable from a point loads
 * and decodes; every chunk a file needs is indexed.
 * --read-data [--subset P%]: downloads packs, verifies each pack's hash and
 * opens every indexed blob (GCM tag + recomputed id).
 *
 * The report names each damaged pack and chunk, and every file and recovery
 * point affected by them, so an operator knows exactly what is at risk.
 */
import { createHash } from "node:crypto";
import { CorruptionError } from "./errors";
import { mapLimit } from "./index/repo-index";
import type { IndexEntry } from "./index/index";
import { BLOB_TREE, packKeyName } from "./pack/format";
import { openBlob } from "./pack/reader";
import type { Repository } from "./repository";
import { readBlobs } from "./restore/blob-batch";
import { decodeTree, type TreeNode } from "./tree";
import type { VolumeRef } from "./snapshot";
import { loadVolumeMap } from "./backup/volume";

export interface CheckOptions {
  readData?: boolean;
  /** Percentage of packs to read with readData (1–100). */
  subsetPercent?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface DamagedPack {
  pack: string;
  reason: string;
}
export interface DamagedChunk {
  chunk: string;
  pack?: string;
  reason: string;
}
export interface AffectedPoint {
  snapshot: string;
  time: string;
  host: string;
  /** Files (or directories whose listing is unreadable) that cannot be restored intact. */
  paths: string[];
}

export interface CheckReport {
  ok: boolean;
  packs: number;
  packsRead: number;
  snapshots: number;
  trees: number;
  /** Not errors: packs that are in storage but not indexed (an interrupted backup); prune removes them. */
  unindexedPacks: string[];
  errors: string[];
  damagedPacks: DamagedPack[];
  damagedChunks: DamagedChunk[];
  /**
   * Damaged copies of chunks that have another copy that verified: no file is
   * affected (restore reads the good copy), but the pack holding the bad copy
   * is still listed in damagedPacks when it was read or found missing.
   */
  damagedCopies: DamagedChunk[];
  affected: AffectedPoint[];
}

export async function check(repo: Repository, opts: CheckOptions = {}): Promise<CheckReport> {
  const report: CheckReport = { ok: true, packs: 0, packsRead: 0, snapshots: 0, trees: 0, unindexedPacks: [], errors: [], damagedPacks: [], damagedChunks: [], damagedCopies: [], affected: [] };
  const damagedPack = new Map<string, string>();
  const damagedChunk = new Map<string, DamagedChunk>();
  const markChunk = (chunk: string, pack: string | undefined, reason: string) => {
    if (!damagedChunk.has(chunk)) damagedChunk.set(chunk, { chunk, ...(pack ? { pack } : {}), reason });
  };

  // Packs in storage vs the index.
  await repo.index.reload();
  const stored = new Map<string, number>();
  for await (const m of repo.store.list("data/")) stored.set(m.key.slice(m.key.lastIndexOf("/") + 1), m.size);
  const indexed = [...repo.index.packs()];
  report.packs = indexed.length;
  for (const p of indexed) {
    const size = stored.get(p.id);
    if (size === undefined) damagedPack.set(p.id, "missing from storage");
    else if (size !== p.size) damagedPack.set(p.id, `size ${size} differs from indexed ${p.size} (truncated or replaced)`);
  }
  for (const id of stored.keys()) if (!repo.index.packInfo(id)) report.unindexedPacks.push(id);
  // Every stored copy of every chunk, by pack: a chunk stored twice (racing writers, a self-heal
  // re-upload) is damaged only when no copy verifies.
  const copiesByPack = new Map<string, Array<{ chunk: string; e: IndexEntry }>>();
  const copies = new Map<string, number>();
  const addCopy = (chunk: string, e: IndexEntry) => {
    let l = copiesByPack.get(e.pack);
    if (!l) copiesByPack.set(e.pack, (l = []));
    l.push({ chunk, e });
  };
  for (const [id] of repo.index.entries()) {
    const all = repo.index.copies(id);
    for (const c of all) addCopy(id, c);
    if (all.length > 1) copies.set(id, all.length);
  }
  const badCopies = new Map<string, DamagedChunk[]>();
  const markCopy = (chunk: string, pack: string, reason: string) => {
    if (!copies.has(chunk)) return markChunk(chunk, pack, reason);
    const l = badCopies.get(chunk) ?? [];
    if (!l.some((c) => c.pack === pack)) l.push({ chunk, pack, reason });
    badCopies.set(chunk, l);
  };

  if (opts.readData) {
    const pct = Math.min(100, Math.max(0, opts.subsetPercent ?? 100));
    const toRead = indexed.filter((p) => !damagedPack.has(p.id) && (pct >= 100 || Math.random() * 100 < pct));
    let done = 0;
    await mapLimit(toRead, 4, async (p) => {
      report.packsRead++;
      let bytes: Buffer;
      try {
        bytes = await repo.store.get(packKeyName(p.id));
      } catch (e) {
        damagedPack.set(p.id, `unreadable: ${(e as Error).message}`);
        return;
      }
      if (createHash("sha256").update(bytes).digest("hex") !== p.id) damagedPack.set(p.id, "content does not hash to its name (damaged or truncated)");
      const key = repo.packKey(p.id, p.salt);
      for (const { chunk, e } of copiesByPack.get(p.id) ?? []) {
        if (e.offset + e.length > bytes.length) {
          markCopy(chunk, p.id, "beyond the end of the pack (truncated)");
          continue;
        }
        try {
          openBlob(repo.keys, p.id, key, { type: e.type, id: Buffer.from(chunk, "hex"), offset: e.offset }, bytes.subarray(e.offset, e.offset + e.length));
        } catch (x) {
          markCopy(chunk, p.id, x instanceof CorruptionError ? x.message : String(x));
        }
      }
      opts.onProgress?.(++done, toRead.length);
    });
  }
  // A pack that is missing or the wrong size damages every chunk in it (whether or not data was read).
  for (const [pack, reason] of damagedPack) {
    if (reason.startsWith("content does not hash")) continue; // its chunks were judged one by one above
    for (const { chunk } of copiesByPack.get(pack) ?? []) markCopy(chunk, pack, `pack ${reason}`);
  }
  // Only when every copy failed does the chunk count as damaged (and its files as affected).
  for (const [chunk, bad] of badCopies) {
    if (bad.length >= copies.get(chunk)!) markChunk(chunk, bad[0]!.pack, bad[0]!.reason);
    else report.damagedCopies.push(...bad);
  }

  // Points and trees. Per-tree results are memoised: shared subtrees are walked once.
  const snaps: Array<{ id: string; time: string; host: string; tree: string; volumes: VolumeRef[] }> = [];
  for (const id of await repo.snapshotIds()) {
    try {
      const s = await repo.loadSnapshot(id);
      snaps.push({ id, time: s.time, host: s.host, tree: s.tree, volumes: s.volumes });
    } catch (e) {
      report.errors.push(`recovery point ${id}: ${(e as Error).message}`);
    }
  }
  report.snapshots = snaps.length;
  // Every listing, read level by level with tree blobs coalesced by pack (one ranged GET per run, not per directory).
  const listings = new Map<string, TreeNode[] | Error>();
  for (let level = snaps.map((s) => s.tree); level.length; ) {
    const next: string[] = [];
    const todo = level.filter((id) => !listings.has(id) && !damagedChunk.has(id));
    await readBlobs(repo, todo, BLOB_TREE, (id, data) => {
      if (data instanceof Error) return void listings.set(id, data);
      try {
        const nodes = decodeTree(data).nodes;
        listings.set(id, nodes);
        for (const n of nodes) if (n.type === "dir" && n.subtree) next.push(n.subtree);
      } catch (e) {
        listings.set(id, new CorruptionError(`tree ${id} does not decode: ${(e as Error).message}`, repo.index.lookup(id)?.pack, id));
      }
    });
    level = next;
  }
  const memo = new Map<string, string[]>();
  const seenTrees = new Set<string>();
  const walk = async (treeId: string): Promise<string[]> => {
    const cached = memo.get(treeId);
    if (cached) return cached;
    const bad: string[] = [];
    const dc = damagedChunk.get(treeId);
    if (dc) {
      bad.push("");
      memo.set(treeId, bad);
      return bad;
    }
    const nodes = listings.get(treeId) ?? new Error("listing was not read");
    if (nodes instanceof Error) {
      markChunk(treeId, repo.index.lookup(treeId)?.pack, nodes.message);
      bad.push("");
      memo.set(treeId, bad);
      return bad;
    }
    seenTrees.add(treeId);
    for (const n of nodes) {
      if (n.type === "dir" && n.subtree) {
        for (const p of await walk(n.subtree)) bad.push(p ? `${n.name}/${p}` : `${n.name}/`);
      } else if (n.type === "file") {
        let broken = false;
        for (const c of n.content ?? []) {
          if (!repo.index.has(c)) markChunk(c, undefined, "referenced but not in the index");
          if (damagedChunk.has(c)) broken = true;
        }
        if (broken) bad.push(n.name);
      }
    }
    memo.set(treeId, bad);
    return bad;
  };
  /** Volume blocks: a damaged map loses the whole image; a damaged block loses that block. */
  const volumeDamage = async (v: VolumeRef): Promise<string[]> => {
    let map;
    try {
      if (damagedChunk.has(v.map)) throw new Error("map chunk damaged");
      map = await loadVolumeMap(repo, v.map);
    } catch (e) {
      markChunk(v.map, repo.index.lookup(v.map)?.pack, `volume map unreadable: ${(e as Error).message}`);
      return [`volume:${v.name}`];
    }
    const out: string[] = [];
    map.forEach((b, i) => {
      if (!b.id) return;
      if (!repo.index.has(b.id)) markChunk(b.id, undefined, "referenced but not in the index");
      if (damagedChunk.has(b.id)) out.push(`volume:${v.name} block ${i}`);
    });
    return out;
  };
  // Two passes: the first discovers tree-level damage, the second attributes every damaged chunk.
  for (const s of snaps) {
    await walk(s.tree);
    for (const v of s.volumes) await volumeDamage(v);
  }
  memo.clear();
  for (const s of snaps) {
    const paths = (await walk(s.tree)).map((p) => `/${p}`);
    for (const v of s.volumes) paths.push(...(await volumeDamage(v)));
    if (paths.length) report.affected.push({ snapshot: s.id, time: s.time, host: s.host, paths });
  }

  report.trees = seenTrees.size;
  report.damagedPacks = [...damagedPack].map(([pack, reason]) => ({ pack, reason }));
  // A pack whose hash fails but whose chunks all verify is still damaged (e.g. the trailer).
  report.damagedChunks = [...damagedChunk.values()];
  for (const c of report.damagedChunks) report.errors.push(`chunk ${c.chunk}${c.pack ? ` in pack ${c.pack}` : ""}: ${c.reason}`);
  for (const p of report.damagedPacks) report.errors.push(`pack ${p.pack}: ${p.reason}`);
  report.ok = report.errors.length === 0;
  return report;
}
