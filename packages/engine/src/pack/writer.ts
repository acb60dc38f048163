import { createHash, randomBytes } from "node:crypto";
import { encryptBlobInto, encryptTrailer, PACK_SALT_BYTES, packKey, TAG_BYTES } from "../crypto/aead";
import { maybeCompress, type Compressed } from "../compress";
import { encodeEntries, FOOTER_BYTES, HEADER_BYTES, PACK_END_MAGIC, PACK_MAGIC, PACK_VERSION, type BlobType, type PackBlob } from "./format";

export interface FinishedPack {
  id: string;
  salt: Buffer;
  bytes: Buffer;
  blobs: PackBlob[];
  /** The whole buffer `bytes` is a view of: once the pack is stored, it can be handed to the next PackWriter. */
  backing: Buffer;
}

/**
 * Accumulates sealed blobs for one pack. The pack key is fresh per pack and
 * the nonce is the blob offset, which only grows: no nonce can repeat.
 *
 * Blobs are sealed straight into one buffer that becomes the pack (no list of
 * parts concatenated at the end, no per-blob concatenation). `sizeHint`: the
 * expected pack size; untouched capacity of an allocUnsafe buffer costs no RSS.
 * `reuse`: a previous pack's `backing`, no longer referenced anywhere (a fresh
 * buffer costs a page fault per 4 KiB the first time each page is written).
 */
export class PackWriter {
  readonly salt = randomBytes(PACK_SALT_BYTES);
  private readonly key: Buffer;
  private buf: Buffer;
  private readonly blobs: PackBlob[] = [];
  private offset = HEADER_BYTES;

  constructor(enc: Buffer, sizeHint = 1024 * 1024, reuse?: Buffer) {
    this.key = packKey(enc, this.salt);
    const size = Math.max(sizeHint, 64 * 1024);
    this.buf = reuse && reuse.length >= size ? reuse : Buffer.allocUnsafe(size);
    PACK_MAGIC.copy(this.buf, 0);
    this.buf[4] = PACK_VERSION;
    this.buf.fill(0, 5, 8);
    this.salt.copy(this.buf, 8);
  }

  private reserve(n: number) {
    if (this.offset + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(Math.ceil(this.buf.length * 1.5), this.offset + n));
    this.buf.copy(bigger, 0, 0, this.offset);
    this.buf = bigger;
  }

  get size(): number {
    return this.offset;
  }

  get count(): number {
    return this.blobs.length;
  }

  /** Compresses (when it pays), seals and appends one blob. */
  add(type: BlobType, id: Buffer, plaintext: Buffer, zstdLevel: number): PackBlob {
    return this.addCompressed(type, id, plaintext.length, maybeCompress(plaintext, zstdLevel));
  }

  /** Appends a blob compressed elsewhere (a worker thread): sealing needs the offset, so it happens here. */
  addCompressed(type: BlobType, id: Buffer, rawLength: number, { flag, payload }: Compressed): PackBlob {
    this.reserve(1 + payload.length + TAG_BYTES);
    const length = encryptBlobInto(this.key, this.offset, id, type, flag, payload, this.buf, this.offset);
    const blob: PackBlob = { type, id, offset: this.offset, length, rawLength };
    this.blobs.push(blob);
    this.offset += length;
    return blob;
  }

  finish(): FinishedPack {
    const trailer = encryptTrailer(this.key, encodeEntries(this.blobs));
    this.reserve(trailer.length + FOOTER_BYTES);
    this.offset += trailer.copy(this.buf, this.offset);
    this.buf.writeUInt32LE(trailer.length, this.offset);
    PACK_END_MAGIC.copy(this.buf, this.offset + 4);
    this.offset += FOOTER_BYTES;
    const bytes = this.buf.subarray(0, this.offset);
    return { id: createHash("sha256").update(bytes).digest("hex"), salt: this.salt, bytes, blobs: this.blobs, backing: this.buf };
  }
}
