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
import { CorruptionError, RepositoryError } from "../errors";
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

/** A block map in its stored form: 40 bytes per block (chunk id, all-zero for a hole; xxh3-64 LE). */
export interface VolumeMapBytes {
  blockSize: number;
  map: Buffer;
}

/** The raw entries of a stored map (what `prevMaps` takes). */
export async function loadVolumeMapBytes(repo: Repository, mapId: string): Promise<Buffer> {
  const idx = mapIndexSchema.safeParse(JSON.parse((await repo.readBlob(mapId, BLOB_DATA)).toString("utf8")));
  if (!idx.success) throw new CorruptionError(`volume map ${mapId} is malformed`, undefined, mapId);
  const pieces: Buffer[] = [];
  for (const piece of idx.data.pieces) pieces.push(await repo.readBlob(piece, BLOB_DATA));
  const map = Buffer.concat(pieces);
  if (map.length !== idx.data.blocks * ENTRY) throw new CorruptionError(`volume map ${mapId} lists ${Math.floor(map.length / ENTRY)} blocks, expected ${idx.data.blocks}`, undefined, mapId);
  return map;
}

export function decodeVolumeMap(map: Buffer): VolumeBlockRef[] {
  const out: VolumeBlockRef[] = [];
  for (let o = 0; o + ENTRY <= map.length; o += ENTRY) {
    const id = map.subarray(o, o + 32);
    out.push({ id: id.equals(ZERO_ID) ? null : id.toString("hex"), fast: map.readBigUInt64LE(o + 32) });
  }
  return out;
}

export async function loadVolumeMap(repo: Repository, mapId: string): Promise<VolumeBlockRef[]> {
  return decodeVolumeMap(await loadVolumeMapBytes(repo, mapId));
}

/** Backs up each image/device; the caller flushes the saver before writing the point. */
export async function backupVolumes(
  repo: Repository,
  sources: string[],
  opts: {
    host: string;
    blockSize?: number;
    onBlock?: (done: number) => void;
    /**
     * The previous maps by (resolved) source, as `onMap` gave them. When given, the
     * previous point's map is not read from the repository at all (the agent trims
     * data packs from its spool); a source without an entry (or with another block
     * size) is hashed in full.
     */
    prevMaps?: ReadonlyMap<string, VolumeMapBytes>;
    /** Each source's new map, to keep for the next call's `prevMaps`. */
    onMap?: (source: string, map: VolumeMapBytes) => void;
  },
): Promise<VolumeRef[]> {
  for (const [source, m] of opts.prevMaps ?? []) {
    if (m.map.length % ENTRY !== 0) throw new RepositoryError(`previous volume map of ${source} is ${m.map.length} bytes, not a multiple of ${ENTRY}`);
  }
  const saver = repo.newSaver();
  const prevPoints = opts.prevMaps ? [] : (await repo.listSnapshots()).filter((s) => s.snapshot.host === opts.host).reverse();
  const refs: VolumeRef[] = [];
  for (const src of sources) {
    const source = resolve(src);
    const blockSize = opts.blockSize ?? repo.config.blockSize;
    let prev: Buffer = Buffer.alloc(0);
    if (opts.prevMaps) {
      const m = opts.prevMaps.get(source);
      if (m && m.blockSize === blockSize) prev = m.map;
    } else {
      const prevRef = prevPoints.map((p) => p.snapshot.volumes.find((v) => v.source === source && v.blockSize === blockSize)).find(Boolean);
      // Unreadable (e.g. packs trimmed): only costs re-hashing, never re-uploading.
      if (prevRef) prev = await loadVolumeMapBytes(repo, prevRef.map).catch(() => Buffer.alloc(0));
    }
    const entries: Buffer[] = [];
    let size = 0;
    for await (const block of readBlocks(source, blockSize)) {
      size += block.data.length;
      const e = Buffer.alloc(ENTRY);
      e.writeBigUInt64LE(block.fast, 32);
      if (!block.zero) {
        const o = block.index * ENTRY;
        const prevId = o + ENTRY <= prev.length && !prev.subarray(o, o + 32).equals(ZERO_ID) ? prev.toString("hex", o, o + 32) : undefined;
        let id: string;
        if (prevId && prev.readBigUInt64LE(o + 32) === block.fast && repo.index.usable(prevId)) id = prevId;
        else {
          id = repo.id(block.data);
          await saver.save(BLOB_DATA, id, block.data);
        }
        Buffer.from(id, "hex").copy(e, 0);
      }
      entries.push(e);
      opts.onBlock?.(block.index + 1);
    }
    opts.onMap?.(source, { blockSize, map: Buffer.concat(entries) });
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
