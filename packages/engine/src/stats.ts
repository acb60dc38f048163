/** Repository-wide numbers: what the points hold versus what is stored. */
import { BLOB_DATA, BLOB_TREE } from "./pack/format";
import type { Repository } from "./repository";

export interface RepoStats {
  points: number;
  /** Sum over points of the bytes each would restore. */
  logicalBytes: number;
  /** Unique plaintext bytes of data chunks. */
  uniqueBytes: number;
  /** Bytes of packs in storage (after dedup, compression, encryption). */
  storedBytes: number;
  /** logicalBytes / storedBytes. */
  dedupRatio: number;
  chunks: number;
  trees: number;
  packs: number;
}

export async function repoStats(repo: Repository): Promise<RepoStats> {
  const points = await repo.listSnapshots();
  let uniqueBytes = 0;
  let chunks = 0;
  let trees = 0;
  for (const [, e] of repo.index.entries()) {
    if (e.type === BLOB_DATA) {
      chunks++;
      uniqueBytes += e.rawLength;
    } else if (e.type === BLOB_TREE) trees++;
  }
  let storedBytes = 0;
  let packs = 0;
  for (const p of repo.index.packs()) {
    storedBytes += p.size;
    packs++;
  }
  const logicalBytes = points.reduce((a, p) => a + p.snapshot.stats.bytes, 0);
  return { points: points.length, logicalBytes, uniqueBytes, storedBytes, dedupRatio: storedBytes ? logicalBytes / storedBytes : 0, chunks, trees, packs };
}
