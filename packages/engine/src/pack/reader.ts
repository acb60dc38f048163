import { createHash, type KeyObject } from "node:crypto";
import { decryptBlob, decryptTrailer, packKey } from "../crypto/aead";
import { createRequire } from "node:module";
import type { DCtx } from "zstd-napi/binding";
import { COMPRESSION_NONE, COMPRESSION_ZSTD, expand } from "../compress";
import { CorruptionError } from "../errors";
import { contentId, toHex } from "../id";
import type { RepoKeys } from "../crypto/keys";
import { decodeEntries, FOOTER_BYTES, HEADER_BYTES, PACK_END_MAGIC, PACK_MAGIC, type BlobType, type PackBlob } from "./format";

type BlobRef = { type: BlobType; id: Buffer; offset: number };

/**
 * Decrypts, decompresses and re-derives the id of one sealed blob. Any
 * mismatch is a CorruptionError naming the pack and the chunk.
 */
export function openBlob(keys: RepoKeys, packId: string, key: Buffer, blob: BlobRef, sealed: Buffer): Buffer {
  return open(keys, packId, key, blob, sealed, (flag, payload) => expand(flag, payload));
}

let dctx: DCtx | undefined;
/** zstd-napi's low-level binding (CommonJS: no named ESM exports), for decompressing into a given buffer. */
function newDctx(): DCtx {
  const binding = createRequire(import.meta.url)("zstd-napi/binding") as typeof import("zstd-napi/binding");
  return new binding.DCtx();
}

/**
 * openBlob without the per-chunk output allocation: a compressed blob is
 * decompressed straight into `dst` (sized to the plaintext the index
 * promises). Returns a view of the verified plaintext — inside `dst`, or
 * inside the decrypted bytes for a blob stored raw.
 *
 * `recheckId: false` skips recomputing the keyed id of the plaintext: the GCM tag
 * already authenticates the blob with its id and type bound as associated data under
 * the pack's key, so only a holder of the repository key could have written it. What
 * the re-check adds is catching a writer that stored the wrong plaintext under an id
 * (a bug on our side); `check --read-data` keeps doing that. Restore skips it by default
 * (it was a third of the decoder's time).
 */
export function openBlobInto(keys: RepoKeys, packId: string, key: Buffer | KeyObject, blob: BlobRef, sealed: Buffer, dst: Buffer, recheckId = true): Buffer {
  return open(
    keys,
    packId,
    key,
    blob,
    sealed,
    (flag, payload) => {
      if (flag === COMPRESSION_NONE) return payload;
      if (flag === COMPRESSION_ZSTD) return dst.subarray(0, (dctx ??= newDctx()).decompress(dst, payload));
      throw new Error(`unknown compression flag ${flag}`);
    },
    recheckId,
  );
}

/** Per thread (each worker has its own module instance); open() is synchronous, so one is enough. */
let scratch = Buffer.allocUnsafe(0);

function open(keys: RepoKeys, packId: string, key: Buffer | KeyObject, blob: BlobRef, sealed: Buffer, inflate: (flag: number, payload: Buffer) => Buffer, recheckId = true): Buffer {
  const idHex = toHex(blob.id);
  // Decrypted into a reused buffer: a compressed payload is only read (inflated elsewhere), a raw
  // one is copied out below because the caller keeps it.
  if (scratch.length < sealed.length) scratch = Buffer.allocUnsafe(Math.max(sealed.length, 2 * scratch.length));
  const pt = decryptBlob(key, blob.offset, blob.id, blob.type, sealed, scratch);
  if (!pt || pt.length < 1) throw new CorruptionError(`pack ${packId}: chunk ${idHex} failed authentication`, packId, idHex);
  let data: Buffer;
  try {
    data = inflate(pt[0]!, pt.subarray(1));
    if (data.buffer === scratch.buffer) data = Buffer.from(data);
  } catch (e) {
    throw new CorruptionError(`pack ${packId}: chunk ${idHex} does not decompress (${(e as Error).message})`, packId, idHex);
  }
  if (recheckId && !contentId(keys.id, data).equals(blob.id)) {
    throw new CorruptionError(`pack ${packId}: chunk ${idHex} content does not match its id`, packId, idHex);
  }
  return data;
}

export interface ParsedPack {
  salt: Buffer;
  key: Buffer;
  blobs: PackBlob[];
}

/** Reads a whole pack: verifies its hash and header, decrypts its trailer. Does not open the blobs. */
export function parsePack(keys: RepoKeys, packId: string, bytes: Buffer): ParsedPack {
  const fail = (why: string) => new CorruptionError(`pack ${packId}: ${why}`, packId);
  if (createHash("sha256").update(bytes).digest("hex") !== packId) throw fail("content does not hash to its name (damaged or truncated)");
  return parseTrailer(keys, packId, bytes);
}

/** Trailer parsing without the whole-pack hash, used to rebuild an index from packs. */
export function parseTrailer(keys: RepoKeys, packId: string, bytes: Buffer): ParsedPack {
  const fail = (why: string) => new CorruptionError(`pack ${packId}: ${why}`, packId);
  if (bytes.length < HEADER_BYTES + FOOTER_BYTES || !bytes.subarray(0, 4).equals(PACK_MAGIC)) throw fail("bad header or too short");
  if (!bytes.subarray(bytes.length - 4).equals(PACK_END_MAGIC)) throw fail("bad footer (truncated?)");
  const tlen = bytes.readUInt32LE(bytes.length - FOOTER_BYTES);
  if (tlen > bytes.length - HEADER_BYTES - FOOTER_BYTES) throw fail("trailer length out of range");
  const salt = Buffer.from(bytes.subarray(8, HEADER_BYTES));
  const key = packKey(keys.enc, salt);
  const tstart = bytes.length - FOOTER_BYTES - tlen;
  const pt = decryptTrailer(key, bytes.subarray(tstart, tstart + tlen));
  if (!pt) throw fail("trailer failed authentication");
  const blobs = decodeEntries(pt);
  if (!blobs) throw fail("trailer is malformed");
  for (const b of blobs) if (b.offset < HEADER_BYTES || b.offset + b.length > tstart) throw fail(`trailer entry ${toHex(b.id)} out of range`);
  return { salt, key, blobs };
}
