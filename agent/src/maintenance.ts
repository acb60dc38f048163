/**
 * Keeps the spool from growing without bound on a machine that runs for
 * years: tree packs no kept point needs are deleted (their data is in the
 * customer's container), and the one-index-object-per-point pile is merged
 * into one object. Runs only while nothing is being captured or uploaded.
 */
import type { BlobStore } from "@tidemark/storage";
import { INDEX_PREFIX, packIdFromKeyName, packKeyName, writeIndexObject, type IndexedPack, type PackBlob, type Repository } from "./engine";

export interface MaintenanceResult {
  treePacksDeleted: number;
  indexObjectsMerged: number;
}


export async function maintainSpool(repo: Repository, raw: BlobStore, keepSnapshots: string[], queuedPacks: Set<string>, opts: { mergeAbove?: number } = {}): Promise<MaintenanceResult> {
  // Trees reachable from the points kept locally (the next point's parent and queued points).
  const needed = new Set<string>();
  const walk = async (treeId: string): Promise<void> => {
    if (needed.has(treeId)) return;
    needed.add(treeId);
    let tree;
    try {
      tree = await repo.loadTree(treeId);
    } catch {
      // A tree whose pack an earlier run trimmed (a directory went back to an old state): it is
      // in the container; locally it only costs the next point a re-read of that directory.
      return;
    }
    for (const n of tree.nodes) if (n.subtree) await walk(n.subtree);
  };
  for (const id of keepSnapshots) {
    const s = await repo.loadSnapshot(id);
    await walk(s.tree);
  }
  const blobsByPack = new Map<string, Array<[string, ReturnType<Repository["index"]["lookup"]>]>>();
  for (const [id, e] of repo.index.entries()) {
    let l = blobsByPack.get(e.pack);
    if (!l) blobsByPack.set(e.pack, (l = []));
    l.push([id, e]);
  }
  let treePacksDeleted = 0;
  for await (const m of raw.list("data/")) {
    const packId = packIdFromKeyName(m.key);
    if (!packId || queuedPacks.has(packId)) continue;
    const blobs = blobsByPack.get(packId);
    // A pack the index does not know yet (a point in progress) is left alone.
    if (!blobs || blobs.some(([id]) => needed.has(id))) continue;
    await raw.delete(packKeyName(packId));
    treePacksDeleted++;
  }

  const names = [...repo.index.objects];
  let indexObjectsMerged = 0;
  if (names.length > (opts.mergeAbove ?? 20)) {
    const packs: IndexedPack[] = [];
    for (const [packId, blobs] of blobsByPack) {
      const info = repo.index.packInfo(packId);
      if (!info) continue;
      packs.push({
        id: packId,
        salt: info.salt,
        size: info.size,
        blobs: blobs.map(([id, e]) => ({ type: e!.type, id: Buffer.from(id, "hex"), offset: e!.offset, length: e!.length, rawLength: e!.rawLength }) as PackBlob),
      });
    }
    // Written before the old ones go: a crash in between leaves duplicates, never a gap.
    const merged = await writeIndexObject(raw, repo.keys, packs);
    for (const n of names) {
      if (n === merged || !n.startsWith(INDEX_PREFIX)) continue;
      await raw.delete(n);
      repo.index.objects.delete(n);
      indexObjectsMerged++;
    }
    repo.index.objects.add(merged);
  }
  return { treePacksDeleted, indexObjectsMerged };
}
