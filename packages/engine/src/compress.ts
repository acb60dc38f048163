/**
 * zstd before encryption, skipped when it does not pay. Level 2 was picked by
 * measurement on 96 MB of /usr/share + /usr/lib in 1 MiB chunks (README
 * "Compression"): level 1 534 MB/s ratio 0.461, level 2 398 MB/s 0.450,
 * level 3 332 MB/s 0.444. Level 1 would cost ~4% repository size against
 * restic (target ≤ 1.02×); level 3 costs 17% throughput for 1.3%.
 */
import { createRequire } from "node:module";
import { decompress } from "zstd-napi";

// The low-level binding compresses straight into a caller's buffer (an encoder
// worker's outgoing batch): no result allocation, no trimming copy.
const zstd = createRequire(import.meta.url)("zstd-napi/binding") as typeof import("zstd-napi/binding");

export const COMPRESSION_NONE = 0;
export const COMPRESSION_ZSTD = 1;
export const DEFAULT_ZSTD_LEVEL = 2;

/** Saving less than this fraction is not worth the decompression on restore. */
const MIN_SAVING = 0.03;
const PROBE_BYTES = 64 * 1024;

export interface Compressed {
  flag: number;
  payload: Buffer;
}

/**
 * Formats that are always compressed (gzip, xz, zstd, bzip2, PNG, JPEG),
 * recognised by their magic number at the start of a file: most small files
 * of a system are such (57 % of the files of /usr/share + /usr/lib, mostly
 * .gz docs), and zstd would try and fail on each one.
 */
const COMPRESSED_MAGIC = [[0x1f, 0x8b], [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], [0x28, 0xb5, 0x2f, 0xfd], [0x42, 0x5a, 0x68], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [0xff, 0xd8, 0xff]];

export function looksCompressed(fileStart: Uint8Array): boolean {
  return COMPRESSED_MAGIC.some((m) => fileStart.length >= m.length && m.every((b, i) => fileStart[i] === b));
}

/** Room `compressInto` needs for `n` input bytes. */
export function maxPayload(n: number): number {
  return Math.max(n, zstd.compressBound(n));
}

let cctx: InstanceType<typeof zstd.CCtx> | undefined;
let probeOut: Buffer | undefined;

/**
 * Writes `data`'s payload into `dst` (≥ maxPayload(data.length) bytes): zstd
 * when that saves at least MIN_SAVING, else the raw bytes. One compression
 * context per thread, reused.
 */
export function compressInto(data: Uint8Array, dst: Uint8Array, level = DEFAULT_ZSTD_LEVEL): { flag: number; length: number } {
  if (level > 0 && data.length >= 128) {
    cctx ??= new zstd.CCtx();
    // Incompressible input (media, archives, encrypted files) is common: a probe
    // of the first 64 KiB avoids paying to compress the whole chunk for nothing.
    let pays = true;
    if (data.length > 4 * PROBE_BYTES) {
      probeOut ??= Buffer.allocUnsafe(zstd.compressBound(PROBE_BYTES));
      pays = cctx.compress(probeOut, data.subarray(0, PROBE_BYTES), level) <= PROBE_BYTES * (1 - MIN_SAVING);
    }
    if (pays) {
      const n = cctx.compress(dst, data, level);
      if (n <= data.length * (1 - MIN_SAVING)) return { flag: COMPRESSION_ZSTD, length: n };
    }
  }
  dst.set(data);
  return { flag: COMPRESSION_NONE, length: data.length };
}

/** Same decision as compressInto; an uncompressed payload is `data` itself (no copy). */
export function maybeCompress(data: Buffer, level = DEFAULT_ZSTD_LEVEL): Compressed {
  if (level <= 0 || data.length < 128) return { flag: COMPRESSION_NONE, payload: data };
  const dst = Buffer.allocUnsafe(maxPayload(data.length));
  const { flag, length } = compressInto(data, dst, level);
  return flag === COMPRESSION_NONE ? { flag, payload: data } : { flag, payload: dst.subarray(0, length) };
}

export function expand(flag: number, payload: Buffer): Buffer {
  if (flag === COMPRESSION_NONE) return payload;
  if (flag === COMPRESSION_ZSTD) return decompress(payload);
  throw new Error(`unknown compression flag ${flag}`);
}
