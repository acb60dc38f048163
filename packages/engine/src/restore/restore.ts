/**
 * Restore a whole point, a subtree or one file into a target directory.
 *
 * Structure first (directories, symlinks, empty files), then data: every
 * needed chunk is grouped by pack, reads are coalesced into ranged GETs of at
 * most RUN_BYTES and run in parallel, each chunk is verified (GCM tag and
 * recomputed id) and written at its offset in every file that needs it.
 * A chunk that cannot be read fails only the files that need it; those are
 * removed and listed, everything else is restored. Metadata (mode, mtime)
 * is applied last, directories deepest first.
 */
import { chmodSync, chownSync, closeSync, fchmodSync, fchownSync, ftruncateSync, futimesSync, lchownSync, lutimesSync, mkdirSync, openSync, rmSync, symlinkSync, utimesSync, writeSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { CorruptionError, EngineError } from "../errors";
import { mapLimit } from "../index/repo-index";
import { BLOB_DATA, BLOB_TREE } from "../pack/format";
import { coalesce, MAX_GAP, readBlobs, readRunBytes, type Located } from "./blob-batch";
import { DecodePool } from "./decode-pool";
import type { DecodeResult, FileError } from "./decode-core";
import type { Repository } from "../repository";
import type { Snapshot } from "../snapshot";
import { decodeTree, isSafeName, isWindowsPath, treePathParts, type TreeNode } from "../tree";
import { findChild } from "../ls";
import { defaultAttributeApplier, type AttributeApplier } from "../win-attrs";

export class RestoreTargetError extends EngineError {}

export interface RestoreProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface RestoreOptions {
  target: string;
  /**
   * Path inside the point ("/home/a/docs"), or a recorded Windows path
   * ("C:\Users\a", matched case-insensitively as `ls` does); absent → the whole point.
   */
  path?: string;
  /** Parallel ranged reads. */
  concurrency?: number;
  onProgress?: (p: RestoreProgress) => void;
  /**
   * Decode worker threads (decrypt + decompress + verify off the main thread).
   * Default: cores − 1 (at most 4) when the restore holds more than
   * DECODE_WORKERS_FROM bytes, otherwise 0 (in-thread: a worker's start-up costs more).
   */
  decodeWorkers?: number;
  /** Worker module for decoding when the engine runs bundled (the bundle's decode-worker.js). */
  decodeWorkerEntry?: string | URL;
  /**
   * Sets the Windows attributes (`attrs`) of restored files and directories,
   * after content, modes and times. Default: defaultAttributeApplier() (win32
   * only); null: do not apply them.
   */
  attributes?: AttributeApplier | null;
}

export interface RestoreResult {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  failures: Array<{ path: string; error: string }>;
}

/**
 * Data runs are smaller than listing runs: `concurrency` of them wait for the
 * decoder at once, each holding its sealed bytes and plaintext (peak RSS).
 */
const DATA_RUN_BYTES = 8 * 1024 * 1024;
/** Below this a decode worker's start-up (~0.1–0.3 s) costs more than it saves. */
const DECODE_WORKERS_FROM = 64 * 1024 * 1024;

interface FilePlan {
  path: string;
  node: TreeNode;
  chunksLeft: number;
  failed?: string;
  /** Open only between the last write and finishFile (same tick). */
  fd?: number;
  created?: boolean;
  done?: boolean;
}

const isRoot = process.getuid?.() === 0;

function writeAll(fd: number, data: Buffer, position: number): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off, position + off);
}

interface Target {
  file: FilePlan;
  offset: number;
}

/** A directory whose listing is still to be read. */
interface PendingDir {
  tree: string;
  dir: string;
  rel: string;
  depth: number;
}

export async function restore(repo: Repository, snap: { id: string; snapshot: Snapshot }, opts: RestoreOptions): Promise<RestoreResult> {
  const target = resolve(opts.target);
  const r = new Restorer(repo, target, opts);
  await wrapDiskErrors(target, async () => {
    await mkdir(target, { recursive: true });
    const start = await r.locate(snap.snapshot.tree, opts.path);
    if (start.kind === "tree") await r.planLevels([{ tree: start.tree, dir: target, rel: "", depth: 0 }]);
    else {
      const sub = r.planNode(start.node, join(target, start.node.name), start.node.name);
      if (sub) await r.planLevels([sub]);
    }
    await r.writeData();
    await r.applyMetadata();
  });
  return r.result;
}

/** Errors of the restore target itself: they stop the restore (RestoreTargetError) instead of failing one file. */
const DISK_ERRORS = new Set(["ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM"]);

async function wrapDiskErrors<T>(target: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT") throw new RestoreTargetError(`disk full while restoring into ${target}`);
    if (code === "EROFS") throw new RestoreTargetError(`restore target ${target} is read-only`);
    if (code === "EACCES" || code === "EPERM") throw new RestoreTargetError(`permission denied writing into ${target}: ${(e as Error).message}`);
    throw e;
  }
}

class Restorer {
  readonly result: RestoreResult = { files: 0, dirs: 0, symlinks: 0, bytes: 0, failures: [] };
  private readonly files: FilePlan[] = [];
  private readonly dirs: Array<{ path: string; node: TreeNode; depth: number }> = [];
  private readonly symlinks: Array<{ path: string; node: TreeNode }> = [];
  private readonly chunkTargets = new Map<string, Target[]>();
  private totalBytes = 0;
  private doneBytes = 0;
  private doneFiles = 0;

  constructor(
    private readonly repo: Repository,
    private readonly target: string,
    private readonly opts: RestoreOptions,
  ) {}

  async locate(rootTree: string, path: string | undefined): Promise<{ kind: "tree"; tree: string } | { kind: "node"; node: TreeNode }> {
    const parts = treePathParts(path ?? "");
    const ignoreCase = path !== undefined && isWindowsPath(path);
    let tree = rootTree;
    for (let i = 0; i < parts.length; i++) {
      const node = findChild((await this.repo.loadTree(tree)).nodes, parts[i]!, ignoreCase);
      if (!node) throw new EngineError(`path not found in recovery point: /${parts.slice(0, i + 1).join("/")}`);
      if (i === parts.length - 1) return { kind: "node", node };
      if (node.type !== "dir" || !node.subtree) throw new EngineError(`not a directory in recovery point: /${parts.slice(0, i + 1).join("/")}`);
      tree = node.subtree;
    }
    return { kind: "tree", tree };
  }

  private failure(path: string, error: string) {
    this.result.failures.push({ path, error });
  }

  /**
   * Breadth first: the listings of a whole level are read together, grouped
   * by pack and coalesced into ranged GETs (one request per run of tree
   * blobs, not one per directory).
   */
  async planLevels(level: PendingDir[]): Promise<void> {
    while (level.length) {
      const listings = new Map<string, TreeNode[] | Error>();
      await readBlobs(this.repo, level.map((l) => l.tree), BLOB_TREE, (id, data) => {
        if (data instanceof Error) return void listings.set(id, data);
        try {
          listings.set(id, decodeTree(data).nodes);
        } catch (e) {
          listings.set(id, new CorruptionError(`tree ${id} does not decode: ${(e as Error).message}`, this.repo.index.lookup(id)?.pack, id));
        }
      });
      const next: PendingDir[] = [];
      for (const l of level) {
        const nodes = listings.get(l.tree)!;
        if (nodes instanceof Error) {
          this.failure(l.rel || "/", `directory listing unreadable: ${nodes.message}`);
          continue;
        }
        for (const n of nodes) {
          const sub = this.planNode(n, join(l.dir, n.name), l.rel ? `${l.rel}/${n.name}` : n.name, l.depth + 1);
          if (sub) next.push(sub);
        }
      }
      level = next;
    }
  }

  /** Creates what needs no data (dirs, symlinks, empty files) and queues file chunks; a directory's listing is returned for the next level. */
  planNode(n: TreeNode, path: string, rel: string, depth = 0): PendingDir | undefined {
    if (!isSafeName(n.name)) {
      this.failure(rel, `refused unsafe entry name ${JSON.stringify(n.name)} (path traversal)`);
      return;
    }
    switch (n.type) {
      case "dir":
        mkdirSync(path, { recursive: true });
        this.dirs.push({ path, node: n, depth });
        this.result.dirs++;
        return n.subtree ? { tree: n.subtree, dir: path, rel, depth } : undefined;
      case "symlink":
        try {
          symlinkSync(n.target ?? "", path);
        } catch (e) {
          // Restoring over an earlier restore: replace what is there (one extra call only then).
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
          rmSync(path, { force: true });
          symlinkSync(n.target ?? "", path);
        }
        this.symlinks.push({ path, node: n });
        this.result.symlinks++;
        return;
      case "file": {
        const content = n.content ?? [];
        const file: FilePlan = { path, node: n, chunksLeft: content.length };
        this.files.push(file);
        this.totalBytes += n.size;
        if (content.length === 0) {
          this.finishFile(file, true);
          return;
        }
        let offset = 0;
        for (const id of content) {
          const e = this.repo.index.lookup(id);
          if (!e) {
            file.failed ??= `chunk ${id} is not in the index`;
            continue;
          }
          let t = this.chunkTargets.get(id);
          if (!t) this.chunkTargets.set(id, (t = []));
          t.push({ file, offset });
          offset += e.rawLength;
        }
        return;
      }
      default:
        // Devices, fifos, sockets: recorded for completeness, not recreated.
        return;
    }
  }

  async writeData(): Promise<void> {
    const runs = coalesce([...this.chunkTargets.keys()].map((id) => ({ id, e: this.repo.index.lookup(id)! })), MAX_GAP, DATA_RUN_BYTES);
    const workers = this.opts.decodeWorkers ?? (this.totalBytes >= DECODE_WORKERS_FROM ? Math.min(4, availableParallelism() - 1) : 0);
    const pool = new DecodePool(this.repo.keys.id, { workers: Math.max(0, workers), entry: this.opts.decodeWorkerEntry });
    try {
      await mapLimit(runs, this.opts.concurrency ?? 4, (run) => this.readRun(run, pool));
    } finally {
      await pool.close();
    }
  }

  private async readRun(run: Located[], pool: DecodePool): Promise<void> {
    const pack = run[0]!.e.pack;
    const start = run[0]!.e.offset;
    let bytes: Buffer | undefined;
    let readError = "";
    try {
      bytes = await readRunBytes(this.repo, run);
    } catch (e) {
      readError = `pack ${pack} unreadable: ${(e as Error).message}`;
    }
    // Single-chunk files are created whole by the decoder (a worker when there is one):
    // file creation is most of a restore's time and this spreads it over two threads.
    const whole: Array<Set<Target>> = run.map(({ id }) => new Set(this.chunkTargets.get(id)!.filter((t) => !t.file.failed && t.file.node.content?.length === 1)));
    let decoded: { out: Buffer; results: DecodeResult[]; fileErrors?: Array<Array<FileError | null>> } | undefined;
    if (bytes) {
      const info = this.repo.index.packInfo(pack)!;
      const blobs = run.map(({ id, e }) => ({ type: e.type, id, offset: e.offset, length: e.length, rawLength: e.rawLength }));
      const files = whole.map((set) => [...set].map(({ file: f }) => ({ path: f.path, mode: f.node.mode, mtime: mtime(f.node), uid: f.node.uid, gid: f.node.gid })));
      const onlyFiles = run.map(({ id }, i) => whole[i]!.size === this.chunkTargets.get(id)!.length);
      try {
        const res = await pool.decode({ pack, key: this.repo.packKey(pack, info.salt), start, sealed: bytes, blobs, files, chown: isRoot, onlyFiles });
        decoded = { out: Buffer.from(res.out), results: res.results, fileErrors: res.fileErrors };
      } catch (x) {
        readError = `pack ${pack}: decoding failed: ${(x as Error).message}`;
      }
    }
    for (let i = 0; i < run.length; i++) {
      const { id } = run[i]!;
      const targets = this.chunkTargets.get(id)!;
      const r = decoded?.results[i];
      let ok = r !== undefined && "at" in r;
      let data = ok && r && "at" in r && r.at >= 0 ? decoded!.out.subarray(r.at, r.at + r.length) : undefined;
      const err = r && "error" in r ? r.error : readError;
      // This copy failed; the chunk may be stored again elsewhere (a self-heal re-upload).
      let viaAlternate = false;
      if (!ok && this.repo.index.alternates?.(id).length) {
        try {
          data = await this.repo.readAlternate(id, BLOB_DATA, new CorruptionError(err, pack, id));
          ok = viaAlternate = true;
        } catch {
          // Every copy failed: the files that need it fail with the first copy's error.
        }
      }
      const written = [...whole[i]!];
      for (const t of targets) {
        if (!ok) t.file.failed ??= err;
        else if (!viaAlternate && r && "at" in r && whole[i]!.has(t)) {
          const fe = decoded!.fileErrors?.[i]?.[written.indexOf(t)];
          if (fe === undefined) t.file.failed ??= "file was not written";
          else if (fe) {
            if (fe.code && DISK_ERRORS.has(fe.code)) throw Object.assign(new Error(fe.message), { code: fe.code });
            t.file.failed ??= fe.message;
          } else {
            t.file.done = true;
            this.doneBytes += r.length;
          }
          t.file.chunksLeft--;
          this.doneFiles++;
          continue;
        } else if (!t.file.failed) this.writeAt(t.file, t.offset, data!);
        t.file.chunksLeft--;
        if (t.file.chunksLeft === 0) this.finishFile(t.file, false);
      }
      this.chunkTargets.delete(id);
    }
    this.opts.onProgress?.({ files: this.doneFiles, totalFiles: this.files.length, bytes: this.doneBytes, totalBytes: this.totalBytes });
  }

  /**
   * Synchronous writes on purpose: with tens of thousands of small files a
   * thread-pool round trip per open/write/close costs more than the syscall.
   * Pack reads stay asynchronous and keep the disk and network busy meanwhile.
   */
  private writeAt(file: FilePlan, offset: number, data: Buffer): void {
    // Chunks of one file arrive in pack order, not file order: create and size it once,
    // then open per chunk so thousands of half-written files never hold descriptors.
    const fd = openSync(file.path, file.created ? "r+" : "w", 0o600);
    try {
      if (!file.created) ftruncateSync(fd, file.node.size);
      file.created = true;
      writeAll(fd, data, offset);
    } finally {
      closeSync(fd);
    }
    this.doneBytes += data.length;
  }

  /** Last chunk written (or none needed): apply mode and mtime through the open descriptor, close it. */
  private finishFile(f: FilePlan, empty: boolean): void {
    this.doneFiles++;
    if (empty) f.fd = openSync(f.path, "w", 0o600);
    else if (f.fd === undefined && f.created && !f.failed) f.fd = openSync(f.path, "r+");
    if (f.fd === undefined) return;
    const fd = f.fd;
    f.fd = undefined;
    try {
      if (f.failed) return;
      if (isRoot) {
        try {
          fchownSync(fd, f.node.uid, f.node.gid);
        } catch {
          // Not permitted on this filesystem: ownership is best effort.
        }
      }
      fchmodSync(fd, f.node.mode & 0o7777);
      const t = mtime(f.node);
      futimesSync(fd, t, t);
      f.done = true;
    } finally {
      closeSync(fd);
    }
  }

  async applyMetadata(): Promise<void> {
    for (const f of this.files) {
      if (f.fd !== undefined) closeSync(f.fd); // only when a failure cut the file short
      if (f.failed || !f.done) {
        this.failure(f.path.slice(this.target.length + 1), f.failed ?? "not all chunks were restored");
        rmSync(f.path, { force: true });
        continue;
      }
      this.result.files++;
      this.result.bytes += f.node.size;
    }
    // Synchronous: thousands of awaited thread-pool round trips in a row cost more than the calls.
    const bestEffort = (f: () => void) => {
      try {
        f();
      } catch {
        // Ownership and link times are best effort (filesystem or permissions may refuse them).
      }
    };
    for (const s of this.symlinks) {
      if (isRoot) bestEffort(() => lchownSync(s.path, s.node.uid, s.node.gid));
      const t = mtime(s.node);
      bestEffort(() => lutimesSync(s.path, t, t));
    }
    for (const d of [...this.dirs].sort((a, b) => b.depth - a.depth)) {
      if (isRoot) bestEffort(() => chownSync(d.path, d.node.uid, d.node.gid));
      chmodSync(d.path, d.node.mode & 0o7777);
      const t = mtime(d.node);
      utimesSync(d.path, t, t);
    }
    await this.applyAttributes();
    this.result.failures.sort((a, b) => a.path.localeCompare(b.path));
  }

  /** Last: a read-only bit set earlier would block writing content or times. */
  private async applyAttributes(): Promise<void> {
    const applier = this.opts.attributes === undefined ? defaultAttributeApplier() : this.opts.attributes;
    if (!applier) return;
    const entries: Array<{ path: string; attrs: number }> = [];
    for (const f of this.files) if (f.done && !f.failed && f.node.attrs !== undefined) entries.push({ path: f.path, attrs: f.node.attrs });
    for (const d of this.dirs) if (d.node.attrs !== undefined) entries.push({ path: d.path, attrs: d.node.attrs });
    if (!entries.length) return;
    let failed: Array<{ path: string; error: string }>;
    try {
      failed = await applier.apply(entries);
    } catch (e) {
      // The applier itself broke: every entry is unattributed, the content is still restored.
      failed = entries.map((x) => ({ path: x.path, error: (e as Error).message }));
    }
    for (const f of failed) this.failure(this.relative(f.path), `attributes not set: ${f.error}`);
  }

  private relative(path: string): string {
    return path.startsWith(this.target + "/") || path.startsWith(this.target + "\\") ? path.slice(this.target.length + 1) : path === this.target ? "/" : path;
  }
}

/** Seconds as a float lose sub-microsecond precision; acceptable for restore. */
function mtime(n: TreeNode): number {
  return Number(BigInt(n.mtimeNs) / 1000n) / 1e6;
}
