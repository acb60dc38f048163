/**
 * Volume images: fixed aligned blocks. The block map is binary, 40 bytes per
 * block: chunk id (32, all-zero for a hole) + xxh3-64 of the block (8). It is
 * stored as DATA blobs of at most MAP_PIECE_BLOCKS entries, listed by a small
 * JSON DATA blob whose id the snapshot records (`volumes[].map`).
 *
 * A block whose xxh3 equals the same block of the previous point reuses that
 * point's chunk id: no keyed hash, no compression, no upload.
 */
import { stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { z } from "zod";
import { readBlocks } from "../chunker/fixed";
import { CorruptionError } from "../errors";
import { BLOB_DATA } from "../pack/format";
import type { Repository } from "../repository";
import type { VolumeRef } from "../snapshot";

const ENTRY = 40;
const MAP_PIECE_BLOCKS = 16 * 1024;
const ZERO_ID = Buffer.alloc(32);

const mapIndexSchema = z.object({ v: z.literal(1), kind: z.literal("volume-map"), blocks: z.number().int().nonnegative(), pieces: z.array(z.string().regex(/^[0-9a-f]{64}$/)) });

export interface VolumeBlockRef {
  /** null for an all-zero block (a hole). */
  id: string | null;
  fast: bigint;
}

export interface VolumeBackupStats {
  blocks: number;
  zeroBlocks: number;
  reusedBlocks: number;
  newBlocks: number;
}

export async function loadVolumeMap(repo: Repository, mapId: string): Promise<VolumeBlockRef[]> {
  const idx = mapIndexSchema.safeParse(JSON.parse((await repo.readBlob(mapId, BLOB_DATA)).toString("utf8")));
  if (!idx.success) throw new CorruptionError(`volume map ${mapId} is malformed`, undefined, mapId);
  const out: VolumeBlockRef[] = [];
  for (const piece of idx.data.pieces) {
    const b = await repo.readBlob(piece, BLOB_DATA);
    for (let o = 0; o + ENTRY <= b.length; o += ENTRY) {
      const id = b.subarray(o, o + 32);
      out.push({ id: id.equals(ZERO_ID) ? null : id.toString("hex"), fast: b.readBigUInt64LE(o + 32) });
    }
  }
  if (out.length !== idx.data.blocks) throw new CorruptionError(`volume map ${mapId} lists ${out.length} blocks, expected ${idx.data.blocks}`, undefined, mapId);
  return out;
}

/** Backs up each image/device; the caller flushes the saver before writing the point. */
export async function backupVolumes(
  repo: Repository,
  sources: string[],
  opts: { host: string; blockSize?: number; onBlock?: (done: number) => void },
): Promise<VolumeRef[]> {
  const saver = repo.newSaver();
  const prevPoints = (await repo.listSnapshots()).filter((s) => s.snapshot.host === opts.host).reverse();
  const refs: VolumeRef[] = [];
  for (const src of sources) {
    const source = resolve(src);
    const blockSize = opts.blockSize ?? repo.config.blockSize;
    const prevRef = prevPoints.map((p) => p.snapshot.volumes.find((v) => v.source === source && v.blockSize === blockSize)).find(Boolean);
    let prev: VolumeBlockRef[] = [];
    if (prevRef) prev = await loadVolumeMap(repo, prevRef.map).catch(() => []);
    const entries: Buffer[] = [];
    let size = 0;
    for await (const block of readBlocks(source, blockSize)) {
      size += block.data.length;
      const e = Buffer.alloc(ENTRY);
      e.writeBigUInt64LE(block.fast, 32);
      if (!block.zero) {
        const p = prev[block.index];
        let id: string;
        if (p && p.id && p.fast === block.fast && repo.index.usable(p.id)) id = p.id;
        else {
          id = repo.id(block.data);
          await saver.save(BLOB_DATA, id, block.data);
        }
        Buffer.from(id, "hex").copy(e, 0);
      }
      entries.push(e);
      opts.onBlock?.(block.index + 1);
    }
    const pieces: string[] = [];
    for (let i = 0; i < entries.length; i += MAP_PIECE_BLOCKS) {
      const piece = Buffer.concat(entries.slice(i, i + MAP_PIECE_BLOCKS));
      const id = repo.id(piece);
      await saver.save(BLOB_DATA, id, piece);
      pieces.push(id);
    }
    const mapBytes = Buffer.from(JSON.stringify({ v: 1, kind: "volume-map", blocks: entries.length, pieces }));
    const mapId = repo.id(mapBytes);
    await saver.save(BLOB_DATA, mapId, mapBytes);
    const st = await stat(source);
    refs.push({ source, name: basename(source), size: st.isFile() ? st.size : size, blockSize, map: mapId });
  }
  await saver.flush();
  return refs;
}
