import { createHash, randomBytes } from "node:crypto";
import { encryptBlob, encryptTrailer, PACK_SALT_BYTES, packKey } from "../crypto/aead";
import { maybeCompress, type Compressed } from "../compress";
import { encodeEntries, FOOTER_BYTES, HEADER_BYTES, PACK_END_MAGIC, PACK_MAGIC, PACK_VERSION, type BlobType, type PackBlob } from "./format";

export interface FinishedPack {
  id: string;
  salt: Buffer;
  bytes: Buffer;
  blobs: PackBlob[];
}

/**
 * Accumulates sealed blobs for one pack. The pack key is fresh per pack and
 * the nonce is the blob offset, which only grows: no nonce can repeat.
 */
export class PackWriter {
  readonly salt = randomBytes(PACK_SALT_BYTES);
  private readonly key: Buffer;
  private readonly parts: Buffer[] = [];
  private readonly blobs: PackBlob[] = [];
  private offset = HEADER_BYTES;
  private readonly hash = createHash("sha256");

  constructor(enc: Buffer) {
    this.key = packKey(enc, this.salt);
    const header = Buffer.alloc(HEADER_BYTES);
    PACK_MAGIC.copy(header, 0);
    header[4] = PACK_VERSION;
    this.salt.copy(header, 8);
    this.push(header);
  }

  private push(b: Buffer) {
    this.parts.push(b);
    this.hash.update(b);
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
    const sealed = encryptBlob(this.key, this.offset, id, type, [Buffer.of(flag), payload]);
    const blob: PackBlob = { type, id, offset: this.offset, length: sealed.length, rawLength };
    this.push(sealed);
    this.blobs.push(blob);
    this.offset += sealed.length;
    return blob;
  }

  finish(): FinishedPack {
    const trailer = encryptTrailer(this.key, encodeEntries(this.blobs));
    const footer = Buffer.alloc(FOOTER_BYTES);
    footer.writeUInt32LE(trailer.length, 0);
    PACK_END_MAGIC.copy(footer, 4);
    this.push(trailer);
    this.push(footer);
    const bytes = Buffer.concat(this.parts);
    this.parts.length = 0;
    return { id: this.hash.digest("hex"), salt: this.salt, bytes, blobs: this.blobs };
  }
}
