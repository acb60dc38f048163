/**
 * Opening the chunks of one coalesced pack read: shared by the decode
 * workers and the in-thread fallback, so both report the same errors.
 */
import { closeSync, constants, fchmodSync, fchownSync, futimesSync, openSync, readFileSync, writeSync } from "node:fs";
import { createSecretKey } from "node:crypto";
import { CorruptionError } from "../errors";
import type { RepoKeys } from "../crypto/keys";
import type { BlobType } from "../pack/format";
import { openBlobInto } from "../pack/reader";

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

/** A file made of exactly one chunk: written whole, with its metadata, by whoever decodes the chunk. */
export interface WholeFile {
  path: string;
  mode: number;
  /** Seconds (atime and mtime). */
  mtime: number;
  uid: number;
  gid: number;
}

export interface DecodeRequest {
  runId: number;
  pack: string;
  key: Uint8Array;
  /** Pack offset of sealed[0]. */
  start: number;
  sealed: Uint8Array;
  blobs: DecodeBlob[];
  /** Per blob: single-chunk files to create from it (spreads file creation, the restore's main cost, over threads). */
  files?: WholeFile[][];
  /**
   * Per blob: places in files of several chunks to write its plaintext at (the file is created
   * if missing, never truncated: the caller sets its size, owner, mode and times once every
   * chunk is in).
   */
  pieces?: Array<Array<{ path: string; offset: number }>>;
  /** Restore ownership too (running as root). */
  chown?: boolean;
  /** The process umask when the restore started (writeWholeFile skips fchmod only when it is known). */
  umask?: number;
  /** Per blob: true when `files` and `pieces` are all that need it (its plaintext is not sent back). */
  onlyFiles?: boolean[];
  /**
   * Where to put the plaintext when it fits: a buffer shared with the caller and reused
   * run after run. Fresh buffers for every run cost page faults and, on the main thread,
   * a full GC every few dozen MiB of external memory (its heap holds the whole plan).
   */
  into?: SharedArrayBuffer;
  /** Also recompute each chunk's keyed id from its plaintext (openBlobInto's `recheckId`); default false. */
  recheckIds?: boolean;
}

export type FileError = { code?: string; message: string };

/** `at` is -1 when the plaintext was only needed for files the decoder wrote itself (not sent back). */
export type DecodeResult = { at: number; length: number } | { error: string };

export interface DecodeResponse {
  runId: number;
  /** Every verified plaintext of the run, back to back; results[i] says where (the request's `into` when it fit). */
  out: ArrayBuffer | SharedArrayBuffer;
  results: DecodeResult[];
  /** Per blob, per requested file: null when written, else why not (blobs that failed to decode write nothing). */
  fileErrors?: Array<Array<FileError | null>>;
  /** Per blob, per requested piece: null when written, else why not. */
  pieceErrors?: Array<Array<FileError | null>>;
}

/**
 * Writes one chunk of a file of several at its offset. Chunks arrive in pack order, from
 * either thread: the file is created by whichever comes first and never truncated here.
 */
export function writeChunkAt(path: string, offset: number, data: Uint8Array): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off, offset + off);
  } finally {
    closeSync(fd);
  }
}

const asFileError = (e: unknown): FileError => ({ code: (e as NodeJS.ErrnoException).code, message: (e as Error).message });

/**
 * The process umask, from /proc (Linux); undefined elsewhere. process.umask() without an
 * argument briefly sets it to 0 for every thread (DEP0139), so it is not asked that way.
 * A restore reads it once when it starts and hands it to its decoders.
 */
export function processUmask(): number | undefined {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? parseInt(m[1]!, 8) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates a file whole: data, owner, mode and times through one descriptor. A file that did
 * not exist is created with its permission bits, and when the umask leaves them as they are
 * (and there are no setuid/setgid/sticky bits) no fchmod follows — one syscall less for most
 * files of a restore. An existing file (restoring over an earlier restore) gets every call.
 */
export function writeWholeFile(f: WholeFile, data: Uint8Array, chown: boolean, mask?: number): void {
  const perms = f.mode & 0o777;
  let exact = mask !== undefined && (perms & mask) === 0 && (f.mode & 0o7000) === 0;
  let fd: number;
  try {
    fd = openSync(f.path, exact ? "wx" : "w", exact ? perms : 0o600);
  } catch (e) {
    if (!exact || (e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    exact = false;
    fd = openSync(f.path, "w", 0o600);
  }
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off, off);
    if (chown) {
      try {
        fchownSync(fd, f.uid, f.gid);
      } catch {
        // Not permitted on this filesystem: ownership is best effort.
      }
    }
    if (!exact) fchmodSync(fd, f.mode & 0o7777);
    futimesSync(fd, f.mtime, f.mtime);
  } finally {
    closeSync(fd);
  }
}

let scratch = Buffer.alloc(0);
function scratchOf(n: number): Buffer {
  if (scratch.length < n) scratch = Buffer.allocUnsafe(n);
  return scratch.subarray(0, n);
}

export function decodeRun(idKey: Buffer, req: DecodeRequest): DecodeResponse {
  const keys = { id: idKey } as RepoKeys;
  // One key object per run (one pack): importing the raw key per blob was ~15 % of GCM's cost.
  const key = createSecretKey(Buffer.from(req.key.buffer, req.key.byteOffset, req.key.byteLength));
  const sealed = Buffer.from(req.sealed.buffer, req.sealed.byteOffset, req.sealed.byteLength);
  // Plaintext goes back only for blobs the caller still has to write itself.
  const returned = req.blobs.map((_, i) => !req.onlyFiles?.[i]);
  let total = 0;
  req.blobs.forEach((b, i) => returned[i] && (total += b.rawLength));
  const out = Buffer.from(req.into && req.into.byteLength >= total ? req.into : new ArrayBuffer(total), 0, total);
  const fileErrors: Array<Array<FileError | null>> = [];
  const pieceErrors: Array<Array<FileError | null>> = [];
  let at = 0;
  const results = req.blobs.map((b, i): DecodeResult => {
    const rel = b.offset - req.start;
    if (rel < 0 || rel + b.length > sealed.length) return { error: `pack ${req.pack}: chunk ${b.id} is truncated` };
    // Decompress straight into the reply (or a scratch buffer when only files need it): no per-chunk allocation.
    const dst = returned[i] ? out.subarray(at, at + b.rawLength) : scratchOf(b.rawLength);
    let data: Buffer;
    try {
      data = openBlobInto(keys, req.pack, key, { type: b.type, id: Buffer.from(b.id, "hex"), offset: b.offset }, sealed.subarray(rel, rel + b.length), dst, req.recheckIds ?? false);
    } catch (x) {
      return { error: x instanceof CorruptionError ? x.message : String(x) };
    }
    // The tag (and optionally the id) verified the bytes; a length the index disagrees with would misplace every later chunk of the file.
    if (data.length !== b.rawLength) {
      return { error: `pack ${req.pack}: chunk ${b.id} is ${data.length} bytes, the index says ${b.rawLength}` };
    }
    fileErrors[i] = (req.files?.[i] ?? []).map((f): FileError | null => {
      try {
        writeWholeFile(f, data, req.chown ?? false, req.umask);
        return null;
      } catch (e) {
        return asFileError(e);
      }
    });
    pieceErrors[i] = (req.pieces?.[i] ?? []).map(({ path, offset }): FileError | null => {
      try {
        writeChunkAt(path, offset, data);
        return null;
      } catch (e) {
        return asFileError(e);
      }
    });
    if (!returned[i]) return { at: -1, length: data.length };
    if (data.buffer !== out.buffer || data.byteOffset !== out.byteOffset + at) out.set(data, at); // stored raw
    at += data.length;
    return { at: at - data.length, length: data.length };
  });
  return { runId: req.runId, out: out.buffer, results, ...(req.files ? { fileErrors } : {}), ...(req.pieces ? { pieceErrors } : {}) };
}
