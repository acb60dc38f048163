/**
 * Opening the chunks of one coalesced pack read: shared by the decode
 * workers and the in-thread fallback, so both report the same errors.
 */
import { CorruptionError } from "../errors";
import type { RepoKeys } from "../crypto/keys";
import type { BlobType } from "../pack/format";
import { openBlob } from "../pack/reader";

export interface DecodeBlob {
  type: BlobType;
  /** Hex chunk id. */
  id: string;
  /** Offset of the sealed blob in the pack (the GCM nonce). */
  offset: number;
  /** Sealed length. */
  length: number;
  /** Plaintext length according to the index. */
  rawLength: number;
}

export interface DecodeRequest {
  runId: number;
  pack: string;
  key: Uint8Array;
  /** Pack offset of sealed[0]. */
  start: number;
  sealed: Uint8Array;
  blobs: DecodeBlob[];
}

export type DecodeResult = { at: number; length: number } | { error: string };

export interface DecodeResponse {
  runId: number;
  /** Every verified plaintext of the run, back to back; results[i] says where. */
  out: ArrayBuffer;
  results: DecodeResult[];
}

export function decodeRun(idKey: Buffer, req: DecodeRequest): DecodeResponse {
  const keys = { id: idKey } as RepoKeys;
  const key = Buffer.from(req.key.buffer, req.key.byteOffset, req.key.byteLength);
  const sealed = Buffer.from(req.sealed.buffer, req.sealed.byteOffset, req.sealed.byteLength);
  let total = 0;
  for (const b of req.blobs) total += b.rawLength;
  const out = Buffer.from(new ArrayBuffer(total));
  let at = 0;
  const results = req.blobs.map((b): DecodeResult => {
    const rel = b.offset - req.start;
    if (rel < 0 || rel + b.length > sealed.length) return { error: `pack ${req.pack}: chunk ${b.id} is truncated` };
    let data: Buffer;
    try {
      data = openBlob(keys, req.pack, key, { type: b.type, id: Buffer.from(b.id, "hex"), offset: b.offset }, sealed.subarray(rel, rel + b.length));
    } catch (x) {
      return { error: x instanceof CorruptionError ? x.message : String(x) };
    }
    // The id verified the bytes; a length the index disagrees with would misplace every later chunk of the file.
    if (data.length !== b.rawLength || at + data.length > total) {
      return { error: `pack ${req.pack}: chunk ${b.id} is ${data.length} bytes, the index says ${b.rawLength}` };
    }
    out.set(data, at);
    at += data.length;
    return { at: at - data.length, length: data.length };
  });
  return { runId: req.runId, out: out.buffer as ArrayBuffer, results };
}
