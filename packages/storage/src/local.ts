/**
 * Local filesystem BlobStore: each key is a file under `root` ("packs/ab/x"
 * → root/packs/ab/x), so a repository on disk is browsable and rsync-able.
 *
 * Crash safety: bytes go to a temp file in the destination directory, are
 * fsynced, then renamed (overwrite) or hard-linked (create-only) into place,
 * so a reader never sees a partial object and a SIGKILL leaves at most a temp
 * file that `list` ignores. link(2) fails with EEXIST atomically, which is
 * what makes `ifNotExists` safe between concurrent writers.
 */
import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import { link, lstat, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { BlobMeta, BlobStore, GetOptions, PutOptions } from "./blob-store";
import {
  BlobExistsError,
  BlobIntegrityError,
  BlobNotFoundError,
  InvalidKeyError,
  StorageError,
  rangeError,
  throwIfAborted,
} from "./errors";
import { resolveRange, validateKey, validatePrefix } from "./keys";
import { md5, sameBytes } from "./md5";

/** Temp files start with this; keys may not, so `list` can skip them safely. */
export const TEMP_PREFIX = ".tidemark-tmp-";

export interface LocalStoreOptions {
  root: string;
  /** fsync file and directory on put (default true). Only tests of throughput turn it off. */
  fsync?: boolean;
}

type ErrnoError = Error & { code?: string };

const errno = (err: unknown): string | undefined => (err as ErrnoError | null)?.code;

/** Codes that mean "nothing there" when opening or statting an object path. */
const MISSING = new Set(["ENOENT", "ENOTDIR"]);
/** Ranged reads up to this size skip fstat (larger ones are sized from it first, not allocated up front). */
const DIRECT_READ_MAX = 64 * 1024 * 1024;
/** Resource exhaustion that may clear up on its own. */
const TRANSIENT_FS = new Set(["EMFILE", "ENFILE", "EAGAIN", "EBUSY", "EINTR"]);

export class LocalBlobStore implements BlobStore {
  readonly description: string;
  readonly root: string;
  private readonly fsync: boolean;

  constructor(opts: LocalStoreOptions) {
    if (!opts.root) throw new StorageError("a root directory is required", { backend: "local" });
    this.root = resolve(opts.root);
    this.fsync = opts.fsync ?? true;
    this.description = `local:${this.root}`;
  }

  async put(key: string, data: Uint8Array, opts: PutOptions = {}): Promise<void> {
    this.check(key);
    throwIfAborted(opts.signal);
    if (opts.contentMD5 && !sameBytes(opts.contentMD5, md5(data))) throw new BlobIntegrityError(this.description, key);
    const file = this.pathOf(key);
    const dir = dirname(file);
    const tmp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`);
    let tmpExists = false;
    try {
      await mkdir(dir, { recursive: true });
      const fh = await open(tmp, "wx", 0o600);
      tmpExists = true;
      try {
        await fh.writeFile(data);
        if (this.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      throwIfAborted(opts.signal);
      if (opts.ifNotExists) {
        try {
          await link(tmp, file);
        } catch (err) {
          if (errno(err) === "EEXIST") throw new BlobExistsError(this.description, key);
          throw err;
        }
      } else {
        await rename(tmp, file);
        tmpExists = false;
      }
      if (this.fsync) await syncDir(dir);
    } catch (err) {
      throw this.fsError(err, "writing", key, file);
    } finally {
      if (tmpExists) await unlink(tmp).catch(() => undefined);
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<Buffer> {
    this.check(key);
    throwIfAborted(opts.signal);
    const file = this.pathOf(key);
    let fh;
    try {
      fh = await open(file, "r");
    } catch (err) {
      if (MISSING.has(errno(err) ?? "")) throw new BlobNotFoundError(this.description, key);
      throw this.fsError(err, "reading", key, file);
    }
    try {
      const direct = opts.length !== undefined && opts.length > 0 && opts.length <= DIRECT_READ_MAX ? await this.readDirect(fh, key, opts.offset, opts.length) : undefined;
      if (direct) return direct;
      const st = await fh.stat();
      // Opening a directory succeeds on Linux; a directory is a prefix, not an object.
      if (!st.isFile()) throw new BlobNotFoundError(this.description, key);
      const { start, end } = resolveRange(st.size, opts.offset, opts.length, (r) => rangeError(this.description, key, r));
      const buf = Buffer.allocUnsafe(end - start);
      let filled = 0;
      while (filled < buf.length) {
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === buf.length ? buf : buf.subarray(0, filled);
    } catch (err) {
      throw this.fsError(err, "reading", key, file);
    } finally {
      await fh.close();
    }
  }

  /**
   * A bounded range read without fstat (pack readers make thousands of small
   * ones). Undefined when nothing could be read at the offset: the caller's
   * fstat path then tells an empty range from an offset beyond the end.
   */
  private async readDirect(fh: FileHandle, key: string, offset: number | undefined, length: number): Promise<Buffer | undefined> {
    // Validates offset and length exactly as a sized read would (the size only matters once nothing is read).
    const { start } = resolveRange(Number.MAX_SAFE_INTEGER, offset, length, (r) => rangeError(this.description, key, r));
    const buf = Buffer.allocUnsafe(length);
    let filled = 0;
    try {
      while (filled < length) {
        const { bytesRead } = await fh.read(buf, filled, length - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
    } catch (err) {
      // A directory is a prefix, not an object: the fstat path reports it as missing.
      if (errno(err) === "EISDIR") return undefined;
      throw err;
    }
    if (filled === 0) return undefined;
    // Past the end: clamped, as the contract says.
    return filled === length ? buf : buf.subarray(0, filled);
  }

  async head(key: string): Promise<BlobMeta | null> {
    this.check(key);
    const file = this.pathOf(key);
    try {
      const st = await stat(file);
      if (!st.isFile()) return null;
      return { key, size: st.size, lastModified: st.mtime, etag: etagOf(st.mtimeMs, st.size, st.ino) };
    } catch (err) {
      if (MISSING.has(errno(err) ?? "")) return null;
      throw this.fsError(err, "reading", key, file);
    }
  }

  async *list(prefix: string): AsyncIterable<BlobMeta> {
    validatePrefix(this.description, prefix);
    // Start at the deepest directory the prefix names completely.
    const slash = prefix.lastIndexOf("/");
    yield* this.walk(slash >= 0 ? prefix.slice(0, slash) : "", prefix);
  }

  async delete(key: string): Promise<void> {
    this.check(key);
    const file = this.pathOf(key);
    try {
      await unlink(file);
    } catch (err) {
      const code = errno(err);
      if (MISSING.has(code ?? "") || code === "EISDIR") return;
      // macOS reports EPERM for unlink on a directory: still "no such object".
      if (code === "EPERM" && (await stat(file).catch(() => null))?.isDirectory()) return;
      throw this.fsError(err, "deleting", key, file);
    }
  }

  /**
   * Removes temp files left by writers that died mid-put (older than maxAgeMs,
   * so a put in flight is never disturbed). Returns how many were removed.
   */
  async sweepTempFiles(maxAgeMs = 60 * 60 * 1000, now = Date.now()): Promise<number> {
    let removed = 0;
    const visit = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[]);
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await visit(p);
        else if (e.isFile() && e.name.startsWith(TEMP_PREFIX)) {
          const st = await lstat(p).catch(() => null);
          if (st && now - st.mtimeMs >= maxAgeMs && (await unlink(p).then(() => true, () => false))) removed++;
        }
      }
    };
    await visit(this.root);
    return removed;
  }

  private async *walk(dirKey: string, prefix: string): AsyncGenerator<BlobMeta> {
    const dir = dirKey ? this.pathOf(dirKey) : this.root;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (MISSING.has(errno(err) ?? "")) return;
      throw this.fsError(err, "listing", dirKey || prefix, dir);
    }
    for (const e of entries) {
      if (e.name.startsWith(TEMP_PREFIX)) continue;
      const key = dirKey ? `${dirKey}/${e.name}` : e.name;
      if (e.isDirectory()) {
        const asPrefix = `${key}/`;
        if (asPrefix.startsWith(prefix) || prefix.startsWith(asPrefix)) yield* this.walk(key, prefix);
      } else if (e.isFile() && key.startsWith(prefix)) {
        // A concurrent delete between readdir and stat just means the object is gone.
        const st = await stat(join(dir, e.name)).catch(() => null);
        if (st?.isFile()) {
          yield { key, size: st.size, lastModified: st.mtime, etag: etagOf(st.mtimeMs, st.size, st.ino) };
        }
      }
    }
  }

  private check(key: string): void {
    validateKey(this.description, key);
    if (key.split("/").some((s) => s.startsWith(TEMP_PREFIX))) {
      throw new InvalidKeyError(this.description, key, `segments must not start with ${TEMP_PREFIX}`);
    }
  }

  private pathOf(key: string): string {
    return join(this.root, ...key.split("/"));
  }

  private fsError(err: unknown, action: string, key: string, path: string): Error {
    if (err instanceof StorageError) return err;
    const code = errno(err);
    const opts = { backend: this.description, key, code, cause: err };
    switch (code) {
      case "ENOSPC":
        return new StorageError(`disk full ${action} ${path}`, opts);
      case "EDQUOT":
        return new StorageError(`disk quota exceeded ${action} ${path}`, opts);
      case "EROFS":
        return new StorageError(`read-only file system ${action} ${path}`, opts);
      case "EACCES":
      case "EPERM":
        return new StorageError(`permission denied ${action} ${path}`, opts);
      case "ENOTDIR":
      case "EISDIR":
      case "EEXIST":
        return new StorageError(
          `key ${key} conflicts with an existing directory or file at ${path} (on disk an object cannot also be a prefix)`,
          opts,
        );
      default:
        return new StorageError(`${code ?? "error"} ${action} ${path}: ${(err as Error)?.message ?? String(err)}`, {
          ...opts,
          transient: TRANSIENT_FS.has(code ?? ""),
        });
    }
  }
}

function etagOf(mtimeMs: number, size: number, ino: number): string {
  return `"${Math.round(mtimeMs * 1000).toString(16)}-${size.toString(16)}-${ino.toString(16)}"`;
}

/** Makes the rename/link itself durable. Not possible on Windows: ignored there. */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch (err) {
    if (!["EISDIR", "EPERM", "EINVAL", "EBADF", "EACCES"].includes(errno(err) ?? "")) throw err;
  } finally {
    await fh?.close();
  }
}

export function localStore(root: string, opts: Omit<LocalStoreOptions, "root"> = {}): LocalBlobStore {
  return new LocalBlobStore({ ...opts, root });
}
