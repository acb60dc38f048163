/**
 * FastCDC (Xia et al. 2016/2020) with normalized chunking level 2: a stricter
 * mask before the average size and a looser one after it pulls chunk sizes
 * towards the average, and skipping the first `min` bytes keeps it fast.
 * The gear table comes from the repository key so boundaries (and therefore
 * chunk sizes) cannot be compared across customers.
 */
import { hkdfSync } from "node:crypto";

export interface ChunkerParams {
  min: number;
  avg: number;
  max: number;
}

export const DEFAULT_CHUNKER: ChunkerParams = { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 };

export function validateChunkerParams(p: ChunkerParams): void {
  const pow2 = (n: number) => Number.isInteger(Math.log2(n));
  if (!pow2(p.avg) || p.avg < 256 || p.avg > 2 ** 28) throw new Error("chunker avg must be a power of two between 256 B and 256 MiB");
  if (!(p.min >= 64 && p.min < p.avg && p.avg < p.max && p.max <= 64 * 1024 * 1024)) {
    throw new Error("chunker sizes must satisfy 64 ≤ min < avg < max ≤ 64 MiB");
  }
}

export function gearTable(seed: Uint8Array): Uint32Array {
  const bytes = Buffer.from(hkdfSync("sha256", seed, Buffer.alloc(0), "fastcdc-gear", 1024));
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) t[i] = bytes.readUInt32LE(i * 4);
  return t;
}

/** Top `bits` bits set: in a left-shifting gear hash those carry the most history. */
const topMask = (bits: number) => (bits >= 32 ? -1 : (((1 << bits) - 1) << (32 - bits)) | 0);

export class FastCdc {
  private readonly gear: Int32Array;
  private readonly maskS: number;
  private readonly maskL: number;

  constructor(
    gear: Uint32Array,
    readonly params: ChunkerParams,
  ) {
    validateChunkerParams(params);
    this.gear = new Int32Array(gear.buffer, gear.byteOffset, 256);
    const bits = Math.round(Math.log2(params.avg));
    this.maskS = topMask(bits + 2);
    this.maskL = topMask(bits - 2);
  }

  /**
   * Length of the chunk starting at `start`, given `avail` bytes from there.
   * The caller passes at least `max` bytes unless the input ends within them.
   */
  cut(buf: Uint8Array, start: number, avail: number): number {
    const { min, avg, max } = this.params;
    if (avail <= min) return avail;
    const limit = Math.min(avail, max);
    const normal = Math.min(avg, limit);
    const gear = this.gear;
    const maskS = this.maskS;
    const maskL = this.maskL;
    let h = 0;
    let i = start + min;
    const normalEnd = start + normal;
    for (; i < normalEnd; i++) {
      h = ((h << 1) + gear[buf[i]!]!) | 0;
      if ((h & maskS) === 0) return i - start + 1;
    }
    const end = start + limit;
    for (; i < end; i++) {
      h = ((h << 1) + gear[buf[i]!]!) | 0;
      if ((h & maskL) === 0) return i - start + 1;
    }
    return limit;
  }

  /**
   * Chunks a stream holding at most ~2×max bytes: pieces are gathered until
   * 2×max are buffered so each concatenation is paid back by ≥ max bytes cut.
   * Yielded buffers are views; consume them before pulling the next one.
   */
  async *chunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    const { max } = this.params;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const piece of source) {
      pending.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
      pendingBytes += piece.byteLength;
      if (pendingBytes < 2 * max) continue;
      const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      let pos = 0;
      while (buf.length - pos >= max) {
        const n = this.cut(buf, pos, buf.length - pos);
        yield buf.subarray(pos, pos + n);
        pos += n;
      }
      pending = pos < buf.length ? [buf.subarray(pos)] : [];
      pendingBytes = buf.length - pos;
    }
    if (pendingBytes === 0) return;
    const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    let pos = 0;
    while (pos < buf.length) {
      const n = this.cut(buf, pos, buf.length - pos);
      yield buf.subarray(pos, pos + n);
      pos += n;
    }
  }
}
