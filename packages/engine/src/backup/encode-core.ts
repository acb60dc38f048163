/**
 * The CPU-heavy half of backup, shared by worker threads and the in-thread
 * fallback: read a file, cut it with FastCDC, name each chunk (keyed HMAC)
 * and compress it. Synchronous reads are deliberate: inside a worker they
 * cost no event-loop latency and avoid a thread-pool round trip per call,
 * which dominates with tens of thousands of small files.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { FastCdc } from "../chunker/fastcdc";
import { maybeCompress, type Compressed } from "../compress";
import { contentId } from "../id";

export interface EncodeParams {
  idKey: Buffer;
  gear: Uint32Array;
  chunker: { min: number; avg: number; max: number };
  zstdLevel: number;
}

export interface EncodedChunk {
  id: string;
  rawLength: number;
  compressed: Compressed;
}

export interface FileJob {
  path: string;
  size: number;
}

/** Streams a file's chunks; `emit` may apply backpressure. Returns bytes read, or throws the fs error. */
export async function encodeFile(
  cdc: FastCdc,
  p: EncodeParams,
  file: FileJob,
  emit: (c: EncodedChunk) => void | Promise<void>,
  pieceSize = 4 * 1024 * 1024,
): Promise<number> {
  const fd = openSync(file.path, "r");
  try {
    const { max } = p.chunker;
    // Hold at most ~2×max + one piece: read until that much is buffered, then cut.
    let buf = Buffer.allocUnsafe(Math.min(Math.max(file.size + 1, 4096), 2 * max + pieceSize));
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
        await emit({ id: contentId(p.idKey, chunk).toString("hex"), rawLength: len, compressed: copyIfView(maybeCompress(chunk, p.zstdLevel), chunk) });
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

/** An uncompressed payload is a view of the read buffer, which is about to be reused. */
function copyIfView(c: Compressed, chunk: Buffer): Compressed {
  return c.payload === chunk ? { flag: c.flag, payload: Buffer.from(chunk) } : c;
}
