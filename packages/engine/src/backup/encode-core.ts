/**
 * The CPU-heavy half of backup, shared by worker threads and the in-thread
 * fallback: read a file, cut it with FastCDC, name each chunk (keyed HMAC)
 * and compress it. Synchronous reads are deliberate: inside a worker they
 * cost no event-loop latency and avoid a thread-pool round trip per call,
 * which dominates with tens of thousands of small files.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { FastCdc } from "../chunker/fastcdc";
import { looksCompressed, maybeCompress, type Compressed } from "../compress";
import { contentId } from "../id";

export interface EncodeParams {
  idKey: Buffer;
  gear: Uint32Array;
  chunker: { min: number; avg: number; max: number };
  zstdLevel: number;
}

/** What a worker is started with. `shared`: SHARED_SLOTS Int32 slots (absent: never delegate). */
export type WorkerParams = EncodeParams & { shared?: SharedArrayBuffer };

export interface EncodedChunk {
  id: string;
  rawLength: number;
  compressed: Compressed;
}

export interface FileJob {
  path: string;
  size: number;
}

// Worker ↔ pool protocol (encode-worker.ts describes it). Here, not in the worker
// module, because importing that module outside a worker would start it.
/** Size of a worker's batch buffers (recycled through acks); a batch is flushed at half of it. */
export const BATCH_CAPACITY = 8 * 1024 * 1024;

/** Event codes in `meta`; a chunk's code is its compression flag. */
export const EV_CHUNK_RAW = 0;
export const EV_CHUNK_ZSTD = 1;
export const EV_DONE = 2;
export const EV_ERROR = 3;
/** A chunk left for the main thread to compress (at the pool's level): the record holds its plaintext. */
export const EV_CHUNK_PLAIN = 4;
/**
 * Per event: code, file (index in the job), a, b, c —
 * chunk: a = record offset in payload, b = payload length, c = raw length;
 * done: c = bytes read; error: a = index in `errors`.
 */
export const EVENT_FIELDS = 5;

/**
 * Shared with each worker (Int32 slots of a SharedArrayBuffer): BUSY_BATCHES counts
 * batches posted and not yet handled by the main thread. The worker reads it without
 * yielding (acks only arrive when it waits), and leaves compression to the main thread
 * while that count is 0 — the main thread has nothing else of this worker's to do, so
 * both cores compress instead of one (the worker was the busy side, the main thread
 * idle part of the time).
 */
export const BUSY_BATCHES = 0;
export const SHARED_SLOTS = 1;

export type ToWorker = { kind: "job"; jobId: number; files: FileJob[] } | { kind: "ack"; payload?: ArrayBuffer };
/** In order: a file's chunks, then its done/error. `last`: the job has no more batches. */
export type FromWorker = { kind: "batch"; jobId: number; meta: ArrayBuffer; payload: ArrayBuffer; errors: string[]; last: boolean };

/** Files up to this size (most of them) are read into one reused buffer: no allocation per file. */
const SHARED_READ_BYTES = 1024 * 1024;

/** Read buffers reused across files by one sequential caller (a worker): never share them between concurrent encodes. */
export interface ReadScratch {
  buf?: Buffer;
  /**
   * For larger files: the most a file ever holds (2×max chunk + one piece, 20 MiB by
   * default). A fresh buffer per large file cost a page fault per 4 KiB read (~1.3 GB
   * of large files in the bench corpus); only the pages ever used stay resident.
   */
  big?: Buffer;
}

/**
 * Streams a file's chunks to `emit` as (view of the read buffer, keyed id,
 * zstd level to apply — 0 for a file in an already-compressed format);
 * the view is only valid until `emit` returns or its promise settles, and
 * `emit` may apply backpressure. Returns bytes read, or throws the fs error.
 */
export async function encodeFile(
  cdc: FastCdc,
  p: EncodeParams,
  file: FileJob,
  emit: (chunk: Buffer, id: Buffer, zstdLevel: number) => void | Promise<void>,
  scratch?: ReadScratch,
  pieceSize = 4 * 1024 * 1024,
): Promise<number> {
  const fd = openSync(file.path, "r");
  try {
    const { max } = p.chunker;
    // Hold at most ~2×max + one piece: read until that much is buffered, then cut.
    // +1: a short read then proves end of file without a second read call.
    const want = Math.min(Math.max(file.size + 1, 4096), 2 * max + pieceSize);
    let buf = !scratch
      ? Buffer.allocUnsafe(want)
      : want <= SHARED_READ_BYTES
        ? (scratch.buf ??= Buffer.allocUnsafe(SHARED_READ_BYTES))
        : (scratch.big ??= Buffer.allocUnsafe(2 * max + pieceSize));
    let have = 0;
    let pos = 0;
    let eof = false;
    let total = 0;
    for (;;) {
      while (!eof && have < 2 * max) {
        if (buf.length - have < Math.min(pieceSize, 65536)) {
          const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, 2 * max + pieceSize));
          buf.copy(bigger, 0, 0, have);
          buf = bigger;
        }
        const n = readSync(fd, buf, have, buf.length - have, pos);
        if (n === 0) eof = true;
        // A short read of a regular file means end of file.
        else if (n < buf.length - have) {
          eof = true;
          have += n;
          pos += n;
        } else {
          have += n;
          pos += n;
        }
      }
      let off = 0;
      while (have - off >= max || (eof && off < have)) {
        const len = cdc.cut(buf, off, have - off);
        const chunk = buf.subarray(off, off + len);
        // A file that starts as gzip/PNG/… is stored raw without trying (the level to use is the caller's to apply).
        await emit(chunk, contentId(p.idKey, chunk), total === 0 && looksCompressed(chunk) ? 0 : p.zstdLevel);
        off += len;
        total += len;
      }
      if (eof) return total;
      buf.copy(buf, 0, off, have);
      have -= off;
    }
  } finally {
    closeSync(fd);
  }
}

/** encodeFile for callers that keep chunks: compressed payloads are owned copies, never views of the read buffer. */
export function encodeFileOwned(cdc: FastCdc, p: EncodeParams, file: FileJob, emit: (c: EncodedChunk) => void | Promise<void>): Promise<number> {
  return encodeFile(cdc, p, file, (chunk, id, level) => {
    const c = maybeCompress(chunk, level);
    return emit({ id: id.toString("hex"), rawLength: chunk.length, compressed: c.payload === chunk ? { flag: c.flag, payload: Buffer.from(chunk) } : c });
  });
}
