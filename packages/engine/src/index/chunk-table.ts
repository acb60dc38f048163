/**
 * The in-memory chunk index: id → (pack, type, offset, length, rawLength) for
 * millions of chunks without a JS object or a 64-character string per chunk.
 * Ids live in one byte array (32 bytes each), the fields in typed arrays, and
 * an open-addressing table (linear probing, load ≤ 1/2) maps an id to its
 * entry. Ids are HMAC outputs, so their first 4 bytes are already a uniform
 * hash. ~57 bytes per entry instead of ~200 for a Map of hex strings to
 * objects; entries keep insertion order, and overwriting keeps the position
 * (as a Map does).
 */
import { ID_BYTES } from "../id";
import type { BlobType } from "../pack/format";

const EMPTY = -1;
const WORDS = ID_BYTES / 4;

export interface ChunkFields {
  pack: number;
  type: BlobType;
  offset: number;
  length: number;
  rawLength: number;
}

export class ChunkTable {
  private cap = 0;
  private ids = new Uint8Array(0);
  private words = new Int32Array(0);
  private packNo = new Uint32Array(0);
  private offsets = new Uint32Array(0);
  private lengths = new Uint32Array(0);
  private raws = new Uint32Array(0);
  private types = new Uint8Array(0);
  private slots = new Int32Array(0);
  private mask = 0;
  count = 0;
  /** Scratch for a looked-up id (aligned, so it can be compared word by word). */
  private readonly probeBytes = Buffer.from(new ArrayBuffer(ID_BYTES));
  private readonly probeWords = new Int32Array(this.probeBytes.buffer, 0, WORDS);

  constructor(capacity = 1024) {
    // Power of two: slot = hash & mask.
    this.resize(2 ** Math.ceil(Math.log2(Math.max(capacity, 16))));
  }

  /** Entry index of a hex id, or -1 (also for anything that is not 64 hex digits). */
  findHex(hex: string): number {
    if (hex.length !== 2 * ID_BYTES || this.probeBytes.write(hex, "hex") !== ID_BYTES) return -1;
    return this.findProbe();
  }

  /** Entry index of a binary id, or -1. */
  find(id: Uint8Array): number {
    this.probeBytes.set(id.subarray(0, ID_BYTES));
    return this.findProbe();
  }

  private findProbe(): number {
    const p = this.probeWords;
    const w = this.words;
    for (let s = p[0]! & this.mask; ; s = (s + 1) & this.mask) {
      const e = this.slots[s]!;
      if (e === EMPTY) return -1;
      const b = e * WORDS;
      if (w[b] === p[0] && w[b + 1] === p[1] && w[b + 2] === p[2] && w[b + 3] === p[3] && w[b + 4] === p[4] && w[b + 5] === p[5] && w[b + 6] === p[6] && w[b + 7] === p[7]) return e;
    }
  }

  /** Inserts the id last found/probed as missing (find/findHex returned -1 just before); returns its entry. */
  insertProbed(f: ChunkFields): number {
    if (this.count + 1 > this.cap) this.resize(this.cap * 2);
    const e = this.count++;
    this.ids.set(this.probeBytes, e * ID_BYTES);
    this.place(e);
    this.update(e, f);
    return e;
  }

  update(e: number, f: ChunkFields): void {
    this.packNo[e] = f.pack;
    this.types[e] = f.type;
    this.offsets[e] = f.offset;
    this.lengths[e] = f.length;
    this.raws[e] = f.rawLength;
  }

  get(e: number): ChunkFields {
    return { pack: this.packNo[e]!, type: this.types[e] as BlobType, offset: this.offsets[e]!, length: this.lengths[e]!, rawLength: this.raws[e]! };
  }

  packOf(e: number): number {
    return this.packNo[e]!;
  }

  idHex(e: number): string {
    return Buffer.from(this.ids.buffer, e * ID_BYTES, ID_BYTES).toString("hex");
  }

  /** Bytes held by the table (what the index costs in memory). */
  get bytes(): number {
    return this.cap * (ID_BYTES + 4 * 4 + 1) + this.slots.byteLength;
  }

  private place(e: number) {
    const w = this.words;
    for (let s = w[e * WORDS]! & this.mask; ; s = (s + 1) & this.mask) {
      if (this.slots[s] === EMPTY) {
        this.slots[s] = e;
        return;
      }
    }
  }

  private resize(cap: number) {
    const grow = <T extends Uint8Array | Uint32Array>(old: T, make: (n: number) => T, per = 1): T => {
      const n = make(cap * per);
      n.set(old.subarray(0, this.count * per));
      return n;
    };
    const ids = new Uint8Array(new ArrayBuffer(cap * ID_BYTES));
    ids.set(this.ids.subarray(0, this.count * ID_BYTES));
    this.ids = ids;
    this.words = new Int32Array(ids.buffer);
    this.packNo = grow(this.packNo, (n) => new Uint32Array(n));
    this.offsets = grow(this.offsets, (n) => new Uint32Array(n));
    this.lengths = grow(this.lengths, (n) => new Uint32Array(n));
    this.raws = grow(this.raws, (n) => new Uint32Array(n));
    this.types = grow(this.types, (n) => new Uint8Array(n));
    this.cap = cap;
    this.slots = new Int32Array(2 * cap).fill(EMPTY);
    this.mask = 2 * cap - 1;
    for (let e = 0; e < this.count; e++) this.place(e);
  }
}
