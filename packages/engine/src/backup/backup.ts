/**
 * File backup: walk → chunk → id → dedup → compress+encrypt → pack → upload.
 *
 * The root tree mirrors each source's recorded absolute path (like restic), so
 * a point restores to TARGET/<absolute path>. A source may be read at one path
 * and recorded at another (a VSS shadow read, the live `C:\…` recorded); a
 * Windows path is stored under its drive letter ("C:\Users" → /C/Users). Unchanged files (same size, mtime and
 * inode as in the parent point, and every chunk still indexed) reuse their
 * chunk lists without being read. Unreadable entries are recorded in the
 * point, never fatal. The point is written only after flush() has made all
 * its packs and index objects durable.
 */
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { lstat, stat } from "node:fs/promises";
import type { BigIntStats } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, isAbsolute, resolve, sep } from "node:path";
import type { BlobSaver } from "../blob-saver";
import { RepositoryError } from "../errors";
import { BLOB_DATA, BLOB_TREE } from "../pack/format";
import type { Repository } from "../repository";
import type { Snapshot, SnapshotStats } from "../snapshot";
import { encodeTree, formatRecordPath, isWindowsPath, recordPathParts, type Tree, type TreeNode } from "../tree";
import type { EncoderPool } from "./encoder-pool";
import { mapLimit } from "../index/repo-index";
import { compileExcludes, type ExcludeMatcher } from "./excludes";

export interface BackupProgress {
  files: number;
  dirs: number;
  bytes: number;
  readBytes: number;
  errors: number;
  current?: string;
}

/**
 * A path read and recorded as itself, or `{ read, record }`: content is read
 * below `read` while the point records `record` (an absolute POSIX or Windows
 * path, e.g. read a VSS shadow, record `C:\Users`).
 */
export type BackupSource = string | { read: string; record: string };

export interface BackupOptions {
  /** Sources read and recorded at the same (resolved) path. */
  paths?: string[];
  /** More sources, optionally mapped (see BackupSource). Recorded paths must be distinct. */
  sources?: BackupSource[];
  /**
   * Glob patterns over recorded paths (syntax: backup/excludes.ts, README "API for embedders").
   * Excluded entries are neither read nor recorded, and the walk does not descend into them.
   */
  excludes?: string[];
  /** Case-insensitive excludes. Default: on when any source is recorded as a Windows path. */
  excludeIgnoreCase?: boolean;
  host?: string;
  tags?: string[];
  /** A point id, "auto" (latest point of this host with the same paths; the default) or "none". */
  parent?: string;
  consistency?: "crash" | "application";
  /** Encoder worker threads (default: cores − 1, at least 1); 0 encodes on the calling thread. */
  workers?: number;
  onProgress?: (p: BackupProgress) => void;
  /** Extra snapshot fields supplied by callers (volume backups). */
  volumes?: Snapshot["volumes"];
}

export interface BackupResult {
  id: string;
  snapshot: Snapshot;
}

interface PendingFile {
  /** Where the content is read. */
  path: string;
  /** What the point records (errors and progress name this). */
  record: string;
  node: TreeNode;
  /** Position in the directory's node list (to drop it if unreadable). */
  slot: number;
}

interface Source {
  read: string;
  /** Canonical recorded path (what the point's `paths` lists). */
  record: string;
  parts: string[];
  windows: boolean;
}

interface VDir {
  children: Map<string, VDir>;
  /** Set when this path is itself a backup source: everything below is captured. */
  source?: Source;
  /** A source below this directory: where its metadata is read from. */
  under?: { source: Source; depth: number };
}

function resolveSources(opts: BackupOptions): Source[] {
  const bySource = new Map<string, Source>();
  const all: BackupSource[] = [...(opts.paths ?? []), ...(opts.sources ?? [])];
  for (const s of all) {
    const read = typeof s === "string" ? resolve(s) : isAbsolute(s.read) ? s.read : resolve(s.read);
    const rawRecord = typeof s === "string" ? read : s.record;
    const windows = isWindowsPath(rawRecord);
    let parts: string[];
    try {
      parts = recordPathParts(rawRecord);
    } catch (e) {
      throw new RepositoryError((e as Error).message);
    }
    if (parts.length === 0 && typeof s !== "string") throw new RepositoryError(`a source cannot be recorded as the root: ${JSON.stringify(s.record)}`);
    const record = formatRecordPath(parts, windows);
    const seen = bySource.get(record);
    if (seen && seen.read !== read) throw new RepositoryError(`two sources are recorded as ${record}`);
    bySource.set(record, { read, record, parts, windows });
  }
  return [...bySource.values()].sort((a, b) => (a.record < b.record ? -1 : a.record > b.record ? 1 : 0));
}

/** One entry on both sides of a (possibly mapped) source. */
interface Place {
  read: string;
  record: string;
  /** `record` with "/" separators: what exclude patterns see. */
  match: string;
  windows: boolean;
}

function placeOf(src: Source): Place {
  return { read: src.read, record: src.record, match: src.windows ? src.record.replace(/\\/g, "/") : src.record, windows: src.windows };
}

function childPlace(at: Place, name: string): Place {
  const record = recordChild(at.record, name, at.windows);
  return { read: readChild(at.read, name), record, match: at.windows ? recordChild(at.match, name, false) : record, windows: at.windows };
}

/** `dir` + one name, on the read side (keeps a root such as "/" or "C:\" intact). */
function readChild(dir: string, name: string): string {
  return dir.endsWith(sep) || dir.endsWith("/") ? dir + name : dir + sep + name;
}

/** Same on the recorded side, in the source's own convention (for error reports and progress). */
function recordChild(dir: string, name: string, windows: boolean): string {
  const s = windows ? "\\" : "/";
  return dir.endsWith(s) ? dir + name : dir + s + name;
}

/** Metadata for a directory above a mapped source that has no counterpart on the read side. */
function syntheticDir(name: string): TreeNode {
  return { name, type: "dir", mode: 0o40755, uid: 0, gid: 0, mtimeNs: "0", size: 0 };
}

export async function backup(repo: Repository, opts: BackupOptions): Promise<BackupResult> {
  const started = Date.now();
  const sources = resolveSources(opts);
  const paths = sources.map((s) => s.record);
  if (paths.length === 0 && !opts.volumes?.length) throw new RepositoryError("nothing to back up: give at least one path");
  const host = opts.host ?? hostname();
  const parent = await findParent(repo, host, paths, opts.parent ?? "auto");
  const saver = repo.newSaver();
  const run = new BackupRun(repo, saver, repo.encoderPool(opts.workers), opts, sources.some((s) => s.windows));

  const root: VDir = { children: new Map() };
  for (const src of sources) {
    let d = root;
    src.parts.forEach((part, depth) => {
      let c = d.children.get(part);
      if (!c) d.children.set(part, (c = { children: new Map() }));
      // Metadata of a directory above a source comes from the matching ancestor of its read path.
      c.under ??= { source: src, depth: depth + 1 };
      d = c;
    });
    d.source = src;
  }
  const rootTree = await run.saveVirtual(root, "/", parent ? parent.snapshot.tree : undefined);
  await saver.flush();

  const stats: SnapshotStats = {
    files: run.progress.files,
    dirs: run.progress.dirs,
    bytes: run.progress.bytes + (opts.volumes ?? []).reduce((a, v) => a + v.size, 0),
    readBytes: run.progress.readBytes,
    newChunks: saver.stats.newChunks,
    newBytes: saver.stats.newBytes,
    storedBytes: saver.stats.storedBytes,
    durationMs: Date.now() - started,
  };
  const snapshot: Snapshot = {
    v: 1,
    time: new Date().toISOString(),
    host,
    paths,
    tree: rootTree,
    volumes: opts.volumes ?? [],
    consistency: opts.consistency ?? "crash",
    ...(parent ? { parent: parent.id } : {}),
    tags: opts.tags ?? [],
    ...(opts.excludes?.length ? { excludes: opts.excludes } : {}),
    stats,
    errors: run.errors,
  };
  const id = await repo.saveSnapshot(snapshot);
  return { id, snapshot };
}

async function findParent(repo: Repository, host: string, paths: string[], ref: string) {
  if (ref === "none") return undefined;
  if (ref !== "auto") return repo.resolveSnapshot(ref);
  const all = await repo.listSnapshots();
  const key = JSON.stringify(paths);
  return all.filter((s) => s.snapshot.host === host && JSON.stringify([...s.snapshot.paths].sort()) === key).at(-1);
}

function metaNode(name: string, st: BigIntStats): TreeNode {
  return {
    name,
    type: st.isDirectory() ? "dir" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : "other",
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtimeNs: st.mtimeNs.toString(),
    size: st.isFile() ? Number(st.size) : 0,
    dev: st.dev.toString(),
    inode: st.ino.toString(),
  };
}

class BackupRun {
  readonly progress: BackupProgress = { files: 0, dirs: 0, bytes: 0, readBytes: 0, errors: 0 };
  readonly errors: Array<{ path: string; error: string }> = [];
  private lastReport = 0;

  constructor(
    private readonly repo: Repository,
    private readonly saver: BlobSaver,
    private readonly pool: EncoderPool,
    private readonly opts: BackupOptions,
    windowsSources: boolean,
  ) {
    this.excludes = compileExcludes(opts.excludes ?? [], opts.excludeIgnoreCase ?? windowsSources);
  }

  private readonly excludes: ExcludeMatcher | undefined;

  private isExcluded(at: Place): boolean {
    if (!this.excludes) return false;
    return this.excludes.excluded(at.match, () => {
      try {
        return lstatSync(at.read).isDirectory();
      } catch {
        return false;
      }
    });
  }

  private report(current?: string) {
    if (!this.opts.onProgress) return;
    const now = Date.now();
    if (now - this.lastReport < 200) return;
    this.lastReport = now;
    this.opts.onProgress({ ...this.progress, ...(current ? { current } : {}) });
  }

  private fail(path: string, e: unknown) {
    this.progress.errors++;
    this.errors.push({ path, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
  }

  private async parentTree(id: string | undefined): Promise<Map<string, TreeNode>> {
    if (!id) return new Map();
    try {
      const t: Tree = await this.repo.loadTree(id);
      // Prefetch the parent's subdirectories: the walk will want them next, one small GET each.
      const subtrees = t.nodes.filter((n) => n.type === "dir" && n.subtree).map((n) => n.subtree!);
      void mapLimit(subtrees, 8, (s) => this.repo.loadTree(s).then(() => undefined, () => undefined));
      return new Map(t.nodes.map((n) => [n.name, n]));
    } catch {
      // A damaged parent only costs re-reading: never fail the backup for it.
      return new Map();
    }
  }

  /** Intermediate directories of source paths: their own metadata, only the children on the way to sources. */
  async saveVirtual(d: VDir, path: string, parentTreeId: string | undefined): Promise<string> {
    if (d.source) throw new Error("unreachable: root cannot be a source");
    const parentNodes = await this.parentTree(parentTreeId);
    const nodes: TreeNode[] = [];
    for (const [name, child] of d.children) {
      const full = path === "/" ? `/${name}` : `${path}/${name}`;
      const prev = parentNodes.get(name);
      if (child.source) {
        const src = child.source;
        const at = placeOf(src);
        if (this.isExcluded(at)) continue;
        const n = await this.saveEntry(at, src.parts.at(-1)!, prev);
        if (n) nodes.push(n);
        continue;
      }
      const node = await this.virtualMeta(name, child, full);
      if (!node) continue;
      node.subtree = await this.saveVirtual(child, full, prev?.type === "dir" ? prev.subtree : undefined);
      nodes.push(node);
    }
    return this.saveTree(nodes);
  }

  /**
   * A directory above a source. Read as itself, it is lstat'ed (a failure
   * drops that branch, as before). Mapped, it is the matching ancestor of the
   * read path (a shadow's root stands for the drive), or synthetic when there
   * is none: the live path is not what is being read.
   */
  private async virtualMeta(name: string, d: VDir, full: string): Promise<TreeNode | undefined> {
    const { source, depth } = d.under!;
    const mapped = source.read !== source.record;
    let read = source.read;
    for (let i = source.parts.length; i > depth; i--) {
      const up = dirname(read);
      if (up === read) return mapped ? syntheticDir(name) : undefined;
      read = up;
    }
    try {
      // A mapped read root may be reached through a link (a shadow's device path, a mount): follow it.
      const node = metaNode(name, mapped ? await stat(read, { bigint: true }) : await lstat(read, { bigint: true }));
      node.type = "dir";
      return node;
    } catch (e) {
      if (mapped) return syntheticDir(name);
      this.fail(full, e);
      return undefined;
    }
  }

  private async saveTree(nodes: TreeNode[]): Promise<string> {
    const data = encodeTree(nodes);
    const id = this.repo.id(data);
    await this.saver.save(BLOB_TREE, id, data);
    return id;
  }

  private async saveDir(at: Place, parentTreeId: string | undefined): Promise<string> {
    let names: string[];
    try {
      names = readdirSync(at.read).sort();
    } catch (e) {
      this.fail(at.record, e);
      return this.saveTree([]);
    }
    const parentNodes = await this.parentTree(parentTreeId);
    const nodes: Array<TreeNode | undefined> = new Array(names.length);
    const toRead: PendingFile[] = [];
    const subdirs: Array<{ node: TreeNode; at: Place; prev: TreeNode | undefined }> = [];
    names.forEach((name, i) => {
      const child = childPlace(at, name);
      if (this.isExcluded(child)) return;
      const r = this.inspect(child, name, parentNodes.get(name));
      if (!r) return;
      nodes[i] = r.node;
      if (r.read) toRead.push({ path: child.read, record: child.record, node: r.node, slot: i });
      if (r.node.type === "dir") subdirs.push({ node: r.node, at: child, prev: parentNodes.get(name) });
    });
    // Files go to the encoder pool while the walk descends (one subdirectory at a time keeps the walk bounded).
    const reading = this.readFiles(toRead, (slot) => (nodes[slot] = undefined));
    try {
      for (const d of subdirs) d.node.subtree = await this.saveDir(d.at, d.prev?.type === "dir" ? d.prev.subtree : undefined);
    } finally {
      await reading;
    }
    return this.saveTree(nodes.filter((n): n is TreeNode => n !== undefined));
  }

  /**
   * lstat + everything that needs no file content. `read` → content must be encoded.
   * Synchronous: a cached lstat is a few µs, a thread-pool round trip far more,
   * and the walk visits every file of the machine.
   */
  private inspect(at: Place, name: string, prev: TreeNode | undefined): { node: TreeNode; read: boolean } | undefined {
    let st: BigIntStats;
    try {
      st = lstatSync(at.read, { bigint: true });
    } catch (e) {
      this.fail(at.record, e);
      return undefined;
    }
    const node = metaNode(name, st);
    if (node.type === "dir") {
      this.progress.dirs++;
      return { node, read: false };
    }
    if (node.type === "symlink") {
      try {
        node.target = readlinkSync(at.read);
      } catch (e) {
        this.fail(at.record, e);
        return undefined;
      }
      return { node, read: false };
    }
    if (node.type !== "file") return { node, read: false };
    this.progress.files++;
    this.progress.bytes += node.size;
    if (prev && prev.type === "file" && prev.size === node.size && prev.mtimeNs === node.mtimeNs && prev.inode === node.inode && prev.content?.every((c) => this.repo.index.usable(c))) {
      node.content = prev.content;
      this.report(at.record);
      return { node, read: false };
    }
    return { node, read: true };
  }

  /** A backup source itself (file or directory). */
  private async saveEntry(at: Place, name: string, prev: TreeNode | undefined): Promise<TreeNode | undefined> {
    const r = this.inspect(at, name || basename(at.read), prev);
    if (!r) return undefined;
    if (r.node.type === "dir") r.node.subtree = await this.saveDir(at, prev?.type === "dir" ? prev.subtree : undefined);
    let failed = false;
    if (r.read) await this.readFiles([{ path: at.read, record: at.record, node: r.node, slot: 0 }], () => (failed = true));
    return failed ? undefined : r.node;
  }

  /** The pool batches small files (from many directories) into shared jobs. */
  private async readFiles(files: PendingFile[], dropped: (slot: number) => void): Promise<void> {
    const batches = files.length ? [files] : [];
    await Promise.all(
      batches.map(async (batch) => {
        const results = await this.pool.encode(
          batch.map((f) => ({ path: f.path, size: f.node.size })),
          async (_file, c) => {
            this.progress.readBytes += c.rawLength;
            if (!this.saver.known(c.id)) await this.saver.saveCompressed(BLOB_DATA, c.id, c.rawLength, c.compressed);
          },
        );
        results.forEach((r, i) => {
          const f = batch[i]!;
          if ("error" in r) {
            this.fail(f.record, { code: r.error });
            dropped(f.slot);
            return;
          }
          f.node.content = r.ids;
          // The file may have changed while being read: the tree describes what was captured.
          f.node.size = r.bytes;
        });
        this.report(batch.at(-1)!.record);
      }),
    );
  }
}
