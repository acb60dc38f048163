/**
 * In-memory BlobStore: the fake for tests. Behaves like the real backends
 * (key rules, create-only puts, MD5 checks, clamped ranges) so a test that
 * passes against it means something against Azure too.
 */
import type { BlobMeta, BlobStore, GetOptions, PutOptions } from "./blob-store";
import { BlobExistsError, BlobIntegrityError, BlobNotFoundError, rangeError, throwIfAborted } from "./errors";
import { resolveRange, validateKey, validatePrefix } from "./keys";
import { md5, sameBytes } from "./md5";

interface Entry {
  data: Buffer;
  md5: Buffer;
  etag: string;
  lastModified: Date;
}

export interface MemoryStoreOptions {
  /** Injected clock for lastModified (tests of GC grace periods). */
  now?: () => Date;
  description?: string;
}

export class MemoryBlobStore implements BlobStore {
  readonly description: string;
  private readonly objects = new Map<string, Entry>();
  private readonly now: () => Date;
  private version = 0;

  constructor(opts: MemoryStoreOptions = {}) {
    this.description = opts.description ?? "memory";
    this.now = opts.now ?? (() => new Date());
  }

  async put(key: string, data: Uint8Array, opts: PutOptions = {}): Promise<void> {
    validateKey(this.description, key);
    throwIfAborted(opts.signal);
    const digest = md5(data);
    if (opts.contentMD5 && !sameBytes(opts.contentMD5, digest)) throw new BlobIntegrityError(this.description, key);
    if (opts.ifNotExists && this.objects.has(key)) throw new BlobExistsError(this.description, key);
    // Copy: the caller may reuse its buffer, and a store must not change under it.
    this.objects.set(key, {
      data: Buffer.from(data),
      md5: digest,
      etag: `"m${++this.version}"`,
      lastModified: this.now(),
    });
  }

  async get(key: string, opts: GetOptions = {}): Promise<Buffer> {
    validateKey(this.description, key);
    throwIfAborted(opts.signal);
    const entry = this.objects.get(key);
    if (!entry) throw new BlobNotFoundError(this.description, key);
    const { start, end } = resolveRange(entry.data.length, opts.offset, opts.length, (reason) =>
      rangeError(this.description, key, reason),
    );
    return Buffer.from(entry.data.subarray(start, end));
  }

  async head(key: string): Promise<BlobMeta | null> {
    validateKey(this.description, key);
    const entry = this.objects.get(key);
    return entry ? this.meta(key, entry) : null;
  }

  async *list(prefix: string): AsyncIterable<BlobMeta> {
    validatePrefix(this.description, prefix);
    // Snapshot first so callers may delete while iterating.
    const matches = [...this.objects].filter(([k]) => k.startsWith(prefix));
    for (const [key, entry] of matches) yield this.meta(key, entry);
  }

  async delete(key: string): Promise<void> {
    validateKey(this.description, key);
    this.objects.delete(key);
  }

  /** Test hook: the stored bytes themselves, to corrupt or truncate in place. */
  raw(key: string): Buffer | undefined {
    return this.objects.get(key)?.data;
  }

  /** Test hook: replace stored bytes without the MD5 being updated (silent corruption). */
  setRaw(key: string, data: Uint8Array): void {
    const entry = this.objects.get(key);
    if (!entry) throw new BlobNotFoundError(this.description, key);
    entry.data = Buffer.from(data);
  }

  get size(): number {
    return this.objects.size;
  }

  private meta(key: string, e: Entry): BlobMeta {
    return { key, size: e.data.length, etag: e.etag, lastModified: e.lastModified, contentMD5: Buffer.from(e.md5) };
  }
}

export function memoryStore(opts?: MemoryStoreOptions): MemoryBlobStore {
  return new MemoryBlobStore(opts);
}
