/**
 * Pack layout (all integers little-endian):
 *
 *   header   "TMP1" | version u8 (=1) | 3 reserved | salt[32]          40 bytes
 *   blobs    AES-GCM(packKey, nonce = 0|offset, aad = type|id)(flag u8 | payload) ...
 *   trailer  AES-GCM(packKey, nonce = 1|0)(count u32 | count × entry)
 *   footer   trailerLength u32 | "TMPE"                                   8 bytes
 *
 * entry = type u8 | id[32] | offset u32 | length u32 | rawLength u32  (45 bytes)
 *
 * The pack id is SHA-256 of the whole object, so `check --read-data` can
 * name a damaged pack even when nothing inside it decrypts.
 */
export const PACK_MAGIC = Buffer.from("TMP1");
export const PACK_END_MAGIC = Buffer.from("TMPE");
export const PACK_VERSION = 1;
export const HEADER_BYTES = 40;
export const FOOTER_BYTES = 8;
export const ENTRY_BYTES = 45;

export const BLOB_DATA = 0;
export const BLOB_TREE = 1;
export type BlobType = typeof BLOB_DATA | typeof BLOB_TREE;

export interface PackBlob {
  type: BlobType;
  id: Buffer;
  /** Byte offset of the sealed blob within the pack. */
  offset: number;
  /** Sealed length (flag + payload + GCM tag). */
  length: number;
  /** Plaintext length before compression. */
  rawLength: number;
}

export function encodeEntries(blobs: PackBlob[]): Buffer {
  const out = Buffer.alloc(4 + blobs.length * ENTRY_BYTES);
  out.writeUInt32LE(blobs.length, 0);
  let o = 4;
  for (const b of blobs) {
    out[o] = b.type;
    b.id.copy(out, o + 1);
    out.writeUInt32LE(b.offset, o + 33);
    out.writeUInt32LE(b.length, o + 37);
    out.writeUInt32LE(b.rawLength, o + 41);
    o += ENTRY_BYTES;
  }
  return out;
}

export function decodeEntries(buf: Buffer): PackBlob[] | null {
  if (buf.length < 4) return null;
  const n = buf.readUInt32LE(0);
  if (buf.length !== 4 + n * ENTRY_BYTES) return null;
  const out: PackBlob[] = [];
  for (let i = 0, o = 4; i < n; i++, o += ENTRY_BYTES) {
    const type = buf[o]!;
    if (type !== BLOB_DATA && type !== BLOB_TREE) return null;
    out.push({
      type,
      id: Buffer.from(buf.subarray(o + 1, o + 33)),
      offset: buf.readUInt32LE(o + 33),
      length: buf.readUInt32LE(o + 37),
      rawLength: buf.readUInt32LE(o + 41),
    });
  }
  return out;
}

export const packKeyName = (packId: string) => `data/${packId.slice(0, 2)}/${packId}`;
const PACK_KEY_NAME = /^data\/[0-9a-f]{2}\/([0-9a-f]{64})$/;
/** The inverse of packKeyName: the pack id of a storage key, or null when the key is not a pack. */
export function packIdFromKeyName(key: string): string | null {
  return PACK_KEY_NAME.exec(key)?.[1] ?? null;
}
