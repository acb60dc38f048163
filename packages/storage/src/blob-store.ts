/**
 * The narrow storage interface every backend implements (kopia `repo/blob`,
 * restic `internal/backend`). Keys are '/'-separated object names; values are
 * whole objects. Packs are ≤ 64 MiB so whole-object buffers are acceptable;
 * ranged reads let restore fetch only the chunks it needs.
 *
 * Key rules (every backend, InvalidKeyError otherwise): non-empty, ≤ 1024
 * chars, no leading '/', no empty, '.' or '..' segments, no backslash, NUL or
 * control characters. Errors: BlobNotFoundError, BlobExistsError,
 * BlobIntegrityError, all StorageError with `transient` telling retry apart.
 */
export interface BlobMeta {
  key: string;
  size: number;
  etag?: string;
  lastModified?: Date;
  /** MD5 of the whole object when the backend records one. */
  contentMD5?: Uint8Array;
}

export interface PutOptions {
  /** Fail with BlobExistsError instead of overwriting. Packs and manifests are create-only. */
  ifNotExists?: boolean;
  /** Integrity on the wire: computed when absent; the backend rejects a mismatch. */
  contentMD5?: Uint8Array;
  signal?: AbortSignal;
}

export interface GetOptions {
  /**
   * Byte range: offset (default 0) and length (default: to the end). A range
   * that runs past the end is clamped (the result is shorter: compare its
   * length); offset == size gives an empty buffer; offset > size or negative
   * values throw a permanent StorageError with code "INVALID_RANGE".
   */
  offset?: number;
  length?: number;
  signal?: AbortSignal;
}

export interface BlobStore {
  /** Human-readable description for logs and error messages (never a secret). */
  readonly description: string;
  put(key: string, data: Uint8Array, opts?: PutOptions): Promise<void>;
  /** Throws BlobNotFoundError when the key does not exist. */
  get(key: string, opts?: GetOptions): Promise<Buffer>;
  /** null when the key does not exist. */
  head(key: string): Promise<BlobMeta | null>;
  /**
   * Every object whose key starts with prefix, in no guaranteed order. The
   * prefix may stop mid-segment ("packs/ab"); "" lists everything.
   */
  list(prefix: string): AsyncIterable<BlobMeta>;
  /** Deleting a missing key is not an error (idempotent). */
  delete(key: string): Promise<void>;
  close?(): Promise<void>;
}
