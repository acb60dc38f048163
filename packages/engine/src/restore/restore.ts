/**
 * Restore a whole point, a subtree or one file into a target directory.
 *
 * Structure (directories, symlinks, empty files) level by level, and data
 * as soon as enough is planned, overlapping the listing: every needed chunk
 * is grouped by pack, reads are coalesced into ranged GETs of at most
 * DATA_RUN_BYTES and run in parallel, each chunk is verified (GCM tag over
 * the sealed bytes with its id bound; `recheckIds` also recomputes the id)
 * and written at its offset in every file that needs it.
 * A chunk that cannot be read fails only the files that need it; those are
 * removed and listed, everything else is restored. Metadata (mode, mtime)
 * is applied last, directories deepest first.
 */
import { chmodSync, chownSync, closeSync, fchmodSync, fchownSync, ftruncateSync, futimesSync, lchownSync, lutimesSync, mkdirSync, openSync, rmSync, symlinkSync, utimesSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { CorruptionError, EngineError } from "../errors";
import { BLOB_DATA, BLOB_TREE } from "../pack/format";
import { coalesce, MAX_GAP, readBlobs, readRunBytes, type Located } from "./blob-batch";
import { CreationSplit } from "./creation-split";
import { RunQueue } from "./run-queue";
import { DecodePool } from "./decode-pool";
import { processUmask, writeChunkAt, writeWholeFile, type DecodeResult, type FileError } from "./decode-core";
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
   * Decode worker threads (decrypt + decompress + verify, create single-chunk files).
   * Default: cores − 1 (at most 4) when the restore holds more than
   * DECODE_WORKERS_FROM bytes, otherwise 0 (in-thread: a worker's start-up costs more).
   */
  decodeWorkers?: number;
  /** Worker module for decoding when the engine runs bundled (the bundle's decode-worker.js). */
  decodeWorkerEntry?: string | URL;
  /**
   * Fixed fraction (0–1) of single-chunk files of worker-decoded runs that the worker creates;
   * the rest are created on the calling thread, which then never decodes runs itself. Default:
   * the worker creates its runs' files and the calling thread decodes whole runs (and creates
   * their files) whenever the worker is ahead.
   */
  workerFileShare?: number;
  /**
   * Recompute every chunk's keyed id from its decrypted plaintext too (default false). Every
   * chunk is verified either way: its AES-GCM tag authenticates the sealed bytes with the chunk
   * id and type bound as associated data, under a key only the repository's key holders have.
   * The re-check only catches a writer that sealed the wrong plaintext under an id — what
   * `check --read-data` looks for — and cost about a third of the decoder's time.
   */
  recheckIds?: boolean;
  /** Bytes of file content planned before their reads start while listing goes on (default 64 MiB). */
  dataAheadBytes?: number;
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
const DATA_RUN_BYTES = 4 * 1024 * 1024;
/** Below this a decode worker's start-up (~0.1–0.3 s) costs more than it saves. */
const DECODE_WORKERS_FROM = 64 * 1024 * 1024;
/**
 * Planning (listings, mkdir, symlinks) and data overlap: once this many bytes of
 * file content are planned they are read and written while planning goes on.
 * Equal to DECODE_WORKERS_FROM, so the first early start already knows it wants workers.
 */
const START_DATA_BYTES = DECODE_WORKERS_FROM;
/**
 * Shared plaintext buffer per run in flight, reused: data runs are cut at this much plaintext
 * too, so every run fits (only a single larger chunk gets a buffer of its own). Measured on
 * the 1.33 GB corpus: decoding into fresh buffers cost 11.5 s of CPU, into a reused one 4.5 s.
 */
const PLAINTEXT_SLOT_BYTES = 16 * 1024 * 1024;
/**
 * Runs queued at a worker (the one it decodes included) from which this thread decodes the
 * next run itself (fewer when `concurrency` leaves fewer in flight). Per-thread CPU over
 * interleaved runs of the 1.33 GB corpus (main / worker, s): from 3 queued 2.96–3.23 / 1.89–2.14,
 * from 4 2.89–2.98 / 2.08–2.22, from 5 2.64–2.73 / 2.04–2.31 (the most even).
 */
const STEAL_BACKLOG = 5;
/** Planned entries between two chances for finished reads to be written (planning is synchronous). */
const PLAN_YIELD_EVERY = 256;

/**
 * What the restore keeps per file until it is written: the tree node itself (names, chunk id
 * strings, dev/inode) is dropped once planned — the plan of a 50k-file point is what the main
 * thread's scavenges copy, and they were a fifth of its planning time.
 */
interface FilePlan {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds (atime and mtime). */
  mtime: number;
  size: number;
  /** Chunks in the file (1: created whole by whoever decodes its chunk). */
  chunks: number;
  attrs?: number;
  chunksLeft: number;
  failed?: string;
  /** A chunk was written (by either thread): the file exists. */
  created?: boolean;
  done?: boolean;
}

/** A coalesced read and, per blob, every place its plaintext goes. */
interface DataRun {
  blobs: Located[];
  targets: Target[][];
}

const isRoot = process.getuid?.() === 0;

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
    // A whole point large enough for decode workers: start them now, so they have loaded by
    // the time the first data is read (their start-up overlaps listing instead of following it).
    if (opts.path === undefined && (snap.snapshot.stats?.bytes ?? 0) >= DECODE_WORKERS_FROM) r.startWorkers(snap.snapshot.stats.bytes);
    await mkdir(target, { recursive: true });
    const start = await r.locate(snap.snapshot.tree, opts.path);
    try {
      if (start.kind === "tree") await r.planLevels([{ tree: start.tree, dir: target, rel: "", depth: 0 }]);
      else {
        const sub = r.planNode(start.node, join(target, start.node.name), start.node.name);
        if (sub) await r.planLevels([sub]);
      }
      await r.writeData();
    } finally {
      await r.close();
    }
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
  private readonly dirs: Array<{ path: string; mode: number; uid: number; gid: number; mtime: number; attrs?: number; depth: number }> = [];
  /** Chunks planned but not yet handed to a read (a chunk needed again after that is read again). */
  private planned = new Map<string, Target[]>();
  private plannedBytes = 0;
  private readonly queue: RunQueue;
  private pool?: DecodePool;
  private readonly split: CreationSplit;
  private readonly dataAhead: number;
  /** Whether this thread decodes runs itself when the workers are ahead (not with a fixed workerFileShare). */
  private readonly stealing: boolean;
  private planningDone = false;
  /** Read once per restore: new files whose mode it leaves intact need no fchmod. */
  private readonly umask = processUmask();
  /** Worker backlog from which this thread decodes a run itself. */
  private readonly stealFrom: number;
  /** Plaintext buffers shared with the decoder, one per run in flight, reused. */
  private readonly spare: SharedArrayBuffer[] = [];
  private totalBytes = 0;
  private doneBytes = 0;
  private doneFiles = 0;

  constructor(
    private readonly repo: Repository,
    private readonly target: string,
    private readonly opts: RestoreOptions,
  ) {
    const concurrency = opts.concurrency ?? 6;
    this.queue = new RunQueue(concurrency);
    this.stealFrom = Math.max(1, Math.min(STEAL_BACKLOG, concurrency - 1));
    this.split = new CreationSplit(opts.workerFileShare ?? 1);
    this.stealing = opts.workerFileShare === undefined;
    this.dataAhead = Math.max(1, opts.dataAheadBytes ?? START_DATA_BYTES);
  }

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
   * blobs, not one per directory). Each listing is planned as it arrives, so
   * its decoded nodes die young instead of waiting for the whole level.
   */
  async planLevels(level: PendingDir[]): Promise<void> {
    while (level.length) {
      // Identical directories share one tree id (and one read).
      const byTree = new Map<string, PendingDir[]>();
      for (const l of level) {
        const same = byTree.get(l.tree);
        if (same) same.push(l);
        else byTree.set(l.tree, [l]);
      }
      const next: PendingDir[] = [];
      let sinceYield = 0;
      await readBlobs(this.repo, byTree.keys(), BLOB_TREE, async (id, data) => {
        let nodes: TreeNode[] | Error;
        if (data instanceof Error) nodes = data;
        else {
          try {
            nodes = decodeTree(data).nodes;
          } catch (e) {
            nodes = new CorruptionError(`tree ${id} does not decode: ${(e as Error).message}`, this.repo.index.lookup(id)?.pack, id);
          }
        }
        for (const l of byTree.get(id)!) {
          if (nodes instanceof Error) {
            this.failure(l.rel || "/", `directory listing unreadable: ${nodes.message}`);
            continue;
          }
          // Yielding inside a listing too: one directory may hold thousands of entries, and the
          // decoder waits for this thread to hand it the reads that finished meanwhile.
          for (const n of nodes) {
            const sub = this.planNode(n, `${l.dir}/${n.name}`, l.rel ? `${l.rel}/${n.name}` : n.name, l.depth + 1);
            if (sub) next.push(sub);
            if (++sinceYield >= PLAN_YIELD_EVERY || this.plannedBytes >= this.dataAhead) {
              sinceYield = 0;
              await this.startPlannedData(false);
            }
          }
        }
      });
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
        this.dirs.push({ path, mode: n.mode, uid: n.uid, gid: n.gid, mtime: mtime(n), ...(n.attrs !== undefined ? { attrs: n.attrs } : {}), depth });
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
        // Nothing later touches a link itself: its owner and time go on now, while the
        // decoder is busy, instead of in the single-threaded metadata pass at the end.
        if (isRoot) bestEffort(() => lchownSync(path, n.uid, n.gid));
        bestEffort(() => lutimesSync(path, mtime(n), mtime(n)));
        this.result.symlinks++;
        return;
      case "file": {
        const content = n.content ?? [];
        const file: FilePlan = { path, mode: n.mode, uid: n.uid, gid: n.gid, mtime: mtime(n), size: n.size, chunks: content.length, chunksLeft: content.length };
        if (n.attrs !== undefined) file.attrs = n.attrs;
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
          let t = this.planned.get(id);
          if (!t) {
            this.planned.set(id, (t = []));
            this.plannedBytes += e.rawLength;
          }
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

  /**
   * Hands the chunks planned so far to the read queue — at the end of
   * planning (`all`), or during it once `dataAhead` bytes are waiting, so
   * file data is written while the rest of the tree is still being listed.
   * Yields either way: finished reads get written between planning steps.
   */
  private async startPlannedData(all: boolean): Promise<void> {
    this.queue.throwIfFailed();
    if (this.planned.size && (all || this.plannedBytes >= this.dataAhead)) {
      // Workers pay off only for large restores: an early start says little about the total.
      this.pool ??= this.newPool(all ? this.totalBytes : Math.max(this.totalBytes, this.dataAhead));
      const planned = this.planned;
      this.planned = new Map();
      this.plannedBytes = 0;
      const located = [...planned.keys()].map((id) => ({ id, e: this.repo.index.lookup(id)! }));
      for (const blobs of coalesce(located, MAX_GAP, DATA_RUN_BYTES, PLAINTEXT_SLOT_BYTES)) {
        const run: DataRun = { blobs, targets: blobs.map(({ id }) => planned.get(id)!) };
        const pool = this.pool;
        this.queue.push(() => this.readRun(run, pool));
      }
    }
    if (!all && this.queue.busy()) await new Promise<void>((r) => setImmediate(r));
  }

  startWorkers(bytes: number): void {
    this.pool ??= this.newPool(bytes);
  }

  private newPool(bytes: number): DecodePool {
    const workers = this.opts.decodeWorkers ?? (bytes >= DECODE_WORKERS_FROM ? Math.min(4, availableParallelism() - 1) : 0);
    return new DecodePool(this.repo.keys.id, { workers: Math.max(0, workers), entry: this.opts.decodeWorkerEntry });
  }

  async writeData(): Promise<void> {
    this.planningDone = true;
    await this.startPlannedData(true);
    await this.queue.drain();
  }

  async close(): Promise<void> {
    await this.queue.settle();
    await this.pool?.close();
  }

  private async readRun({ blobs: run, targets }: DataRun, pool: DecodePool): Promise<void> {
    const pack = run[0]!.e.pack;
    const start = run[0]!.e.offset;
    let bytes: Buffer | undefined;
    let readError = "";
    try {
      bytes = await readRunBytes(this.repo, run);
    } catch (e) {
      readError = `pack ${pack} unreadable: ${(e as Error).message}`;
    }
    // Decoding and creating single-chunk files is most of a restore's work. This thread is
    // free right now (the continuation runs); when the worker already has `stealFrom` runs
    // it will not run dry meanwhile, so this one is decoded (and its files created) here.
    // Only once planning is done: before, this thread has listings to plan. Reads that finished
    // meanwhile go to the worker first (their continuations run before this one resumes).
    // Measured on the 1.33 GB corpus: the worker was the busy thread while the main thread
    // idled ~40 % of the data phase; with this both stay busy to the end.
    let here = false;
    if (bytes !== undefined && this.stealing && this.planningDone && (pool.backlog() ?? 0) >= this.stealFrom) {
      await new Promise<void>((r) => setImmediate(r));
      here = (pool.backlog() ?? 0) >= this.stealFrom;
    }
    const whole: Array<Set<Target>> = targets.map((ts) => new Set(ts.filter((t) => !t.file.failed && t.file.chunks === 1 && (here || this.split.toWorker()))));
    // Chunks of files of several chunks are written by the decoder too (by default): ~70 % of the
    // corpus's bytes are in such files, and this thread was the busy one while planning.
    const pieces: Target[][] = targets.map((ts) => (this.stealing ? ts.filter((t) => !t.file.failed && t.file.chunks > 1) : []));
    let decoded: { view: Buffer; results: DecodeResult[]; fileErrors?: Array<Array<FileError | null>>; pieceErrors?: Array<Array<FileError | null>> } | undefined;
    // At most `concurrency` runs hold one: their pages stay mapped instead of being faulted in anew.
    const into = this.spare.pop() ?? new SharedArrayBuffer(PLAINTEXT_SLOT_BYTES);
    if (bytes) {
      const info = this.repo.index.packInfo(pack)!;
      const blobs = run.map(({ id, e }) => ({ type: e.type, id, offset: e.offset, length: e.length, rawLength: e.rawLength }));
      const files = whole.map((set) => [...set].map(({ file: f }) => ({ path: f.path, mode: f.mode, mtime: f.mtime, uid: f.uid, gid: f.gid })));
      const piecesReq = pieces.map((ps) => ps.map(({ file, offset }) => ({ path: file.path, offset })));
      const onlyFiles = targets.map((ts, i) => whole[i]!.size + pieces[i]!.length === ts.length);
      try {
        const req = { pack, key: this.repo.packKey(pack, info.salt), start, sealed: bytes, blobs, files, pieces: piecesReq, chown: isRoot, umask: this.umask, onlyFiles, into, recheckIds: this.opts.recheckIds };
        const res = here ? pool.decodeHere(req) : await pool.decode(req);
        decoded = { view: Buffer.from(res.out), results: res.results, fileErrors: res.fileErrors, pieceErrors: res.pieceErrors };
      } catch (x) {
        readError = `pack ${pack}: decoding failed: ${(x as Error).message}`;
      }
    }
    for (let i = 0; i < run.length; i++) {
      const { id } = run[i]!;
      const r = decoded?.results[i];
      // Decoded from this run (by the decoder, which may have written whole files itself).
      const hit = r && "at" in r ? r : undefined;
      let ok = hit !== undefined;
      let data = hit && hit.at >= 0 ? decoded!.view.subarray(hit.at, hit.at + hit.length) : undefined;
      const err = r && "error" in r ? r.error : readError;
      // This copy failed; the chunk may be stored again elsewhere (a self-heal re-upload).
      if (!ok && this.repo.index.alternates?.(id).length) {
        try {
          data = await this.repo.readAlternate(id, BLOB_DATA, new CorruptionError(err, pack, id));
          ok = true;
        } catch {
          // Every copy failed: the files that need it fail with the first copy's error.
        }
      }
      const written = [...whole[i]!];
      for (const t of targets[i]!) {
        const f = t.file;
        if (!ok) f.failed ??= err;
        else if (hit && whole[i]!.has(t)) {
          const fe = decoded!.fileErrors?.[i]?.[written.indexOf(t)];
          this.wholeFileWritten(f, fe === undefined ? { message: "file was not written" } : fe, hit.length);
          continue;
        } else if (!f.failed && f.chunks === 1) {
          this.wholeFileWritten(f, writeWholeFileHere(f, data!, this.umask), data!.length);
          continue;
        } else if (hit && pieces[i]!.includes(t)) {
          const pe = decoded!.pieceErrors?.[i]?.[pieces[i]!.indexOf(t)];
          if (pe === null) {
            f.created = true;
            this.doneBytes += hit.length;
          } else {
            if (pe?.code && DISK_ERRORS.has(pe.code)) throw Object.assign(new Error(pe.message), { code: pe.code });
            f.failed ??= pe?.message ?? "chunk was not written";
          }
        } else if (!f.failed) this.writeAt(f, t.offset, data!);
        f.chunksLeft--;
        if (f.chunksLeft === 0) this.finishFile(f, false);
      }
    }
    // Every view into it is gone (writes are synchronous): the next run may fill it again.
    this.spare.push(into);
    this.opts.onProgress?.({ files: this.doneFiles, totalFiles: this.files.length, bytes: this.doneBytes, totalBytes: this.totalBytes });
  }

  /** A single-chunk file created whole (by the decoder or here): null, or why it was not. */
  private wholeFileWritten(f: FilePlan, fe: FileError | null, length: number): void {
    if (fe) {
      if (fe.code && DISK_ERRORS.has(fe.code)) throw Object.assign(new Error(fe.message), { code: fe.code });
      f.failed ??= fe.message;
    } else {
      f.done = true;
      this.doneBytes += length;
    }
    f.chunksLeft--;
    this.doneFiles++;
  }

  /**
   * Synchronous writes on purpose: with tens of thousands of small files a
   * thread-pool round trip per open/write/close costs more than the syscall.
   * Pack reads stay asynchronous and keep the disk and network busy meanwhile.
   * Chunks of one file arrive in pack order, not file order, from either thread:
   * open per chunk so thousands of half-written files never hold descriptors.
   */
  private writeAt(file: FilePlan, offset: number, data: Buffer): void {
    writeChunkAt(file.path, offset, data);
    file.created = true;
    this.doneBytes += data.length;
  }

  /**
   * Last chunk written (or none needed): size (chunks never truncate, so a longer file restored
   * over is cut here), owner, mode and mtime through one descriptor, then close it.
   */
  private finishFile(f: FilePlan, empty: boolean): void {
    this.doneFiles++;
    if (f.failed || (!empty && !f.created)) return;
    const fd = openSync(f.path, empty ? "w" : "r+", 0o600);
    try {
      if (!empty) ftruncateSync(fd, f.size);
      if (isRoot) {
        try {
          fchownSync(fd, f.uid, f.gid);
        } catch {
          // Not permitted on this filesystem: ownership is best effort.
        }
      }
      fchmodSync(fd, f.mode & 0o7777);
      futimesSync(fd, f.mtime, f.mtime);
      f.done = true;
    } finally {
      closeSync(fd);
    }
  }

  async applyMetadata(): Promise<void> {
    for (const f of this.files) {
      if (f.failed || !f.done) {
        this.failure(f.path.slice(this.target.length + 1), f.failed ?? "not all chunks were restored");
        rmSync(f.path, { force: true });
        continue;
      }
      this.result.files++;
      this.result.bytes += f.size;
    }
    // Synchronous: thousands of awaited thread-pool round trips in a row cost more than the calls.
    for (const d of [...this.dirs].sort((a, b) => b.depth - a.depth)) {
      if (isRoot) bestEffort(() => chownSync(d.path, d.uid, d.gid));
      chmodSync(d.path, d.mode & 0o7777);
      utimesSync(d.path, d.mtime, d.mtime);
    }
    await this.applyAttributes();
    this.result.failures.sort((a, b) => a.path.localeCompare(b.path));
  }

  /** Last: a read-only bit set earlier would block writing content or times. */
  private async applyAttributes(): Promise<void> {
    const applier = this.opts.attributes === undefined ? defaultAttributeApplier() : this.opts.attributes;
    if (!applier) return;
    const entries: Array<{ path: string; attrs: number }> = [];
    for (const f of this.files) if (f.done && !f.failed && f.attrs !== undefined) entries.push({ path: f.path, attrs: f.attrs });
    for (const d of this.dirs) if (d.attrs !== undefined) entries.push({ path: d.path, attrs: d.attrs });
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

function bestEffort(f: () => void): void {
  try {
    f();
  } catch {
    // Ownership and link times are best effort (filesystem or permissions may refuse them).
  }
}

/** A single-chunk file created on this thread: null, or why it was not. */
function writeWholeFileHere(f: FilePlan, data: Buffer, umask: number | undefined): FileError | null {
  try {
    writeWholeFile(f, data, isRoot, umask);
    return null;
  } catch (e) {
    return { code: (e as NodeJS.ErrnoException).code, message: (e as Error).message };
  }
}

/** Seconds as a float lose sub-microsecond precision; acceptable for restore. */
function mtime(n: TreeNode): number {
  return Number(BigInt(n.mtimeNs) / 1000n) / 1e6;
}
