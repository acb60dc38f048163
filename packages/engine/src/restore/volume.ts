/**
 * Restores a volume image to a file or device. Holes (all-zero blocks) are
 * skipped, so a regular file target stays sparse.
 */
import { open, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { loadVolumeMap } from "../backup/volume";
import { EngineError } from "../errors";
import { BLOB_DATA } from "../pack/format";
import type { Repository } from "../repository";
import type { Snapshot } from "../snapshot";
import { RestoreTargetError } from "./restore";
import { readBlobs } from "./blob-batch";

export interface VolumeRestoreResult {
  bytes: number;
  blocks: number;
  holes: number;
  failures: Array<{ block: number; error: string }>;
}

export async function restoreVolume(repo: Repository, snapshot: Snapshot, name: string, targetPath: string, opts: { concurrency?: number } = {}): Promise<VolumeRestoreResult> {
  const vol = snapshot.volumes.find((v) => v.name === name || v.source === name);
  if (!vol) throw new EngineError(`no volume ${JSON.stringify(name)} in this recovery point (has: ${snapshot.volumes.map((v) => v.name).join(", ") || "none"})`);
  const map = await loadVolumeMap(repo, vol.map);
  const target = resolve(targetPath);
  const isDevice = await stat(target).then((s) => s.isBlockDevice(), () => false);
  const fh = await open(target, isDevice ? "r+" : "w");
  const result: VolumeRestoreResult = { bytes: vol.size, blocks: map.length, holes: 0, failures: [] };
  try {
    if (!isDevice) await fh.truncate(vol.size);
    // A block id can repeat (identical blocks): read it once, write it everywhere.
    const where = new Map<string, number[]>();
    for (let i = 0; i < map.length; i++) {
      const id = map[i]!.id;
      if (!id) {
        result.holes++;
        // A device is not sparse: its old contents must be overwritten with zeros.
        if (isDevice) await fh.write(Buffer.alloc(Math.min(vol.blockSize, vol.size - i * vol.blockSize)), 0, undefined, i * vol.blockSize);
        continue;
      }
      let l = where.get(id);
      if (!l) where.set(id, (l = []));
      l.push(i);
    }
    // Blocks are read in runs coalesced by pack (ranged GETs), not one GET per block.
    await readBlobs(
      repo,
      where.keys(),
      BLOB_DATA,
      async (id, data) => {
        for (const i of where.get(id)!) {
          if (data instanceof Error) {
            result.failures.push({ block: i, error: data.message });
            continue;
          }
          try {
            await fh.write(data, 0, data.length, i * vol.blockSize);
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code === "ENOSPC" || code === "EDQUOT") throw new RestoreTargetError(`disk full while restoring volume into ${target}`);
            throw e;
          }
        }
      },
      opts.concurrency ?? 4,
    );
    result.failures.sort((a, b) => a.block - b.block);
  } finally {
    await fh.close();
  }
  return result;
}
