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

/** Parent listings read per prefetch step (grouped by pack within it). */
const PREFETCH_BATCH = 256;
import { compileExcludes, type ExcludeMatcher } from "./excludes";
import { readChild, type Prescan } from "./prescan";
import { lstatMeta, metaNode, type ScannedEntry } from "./lstat-meta";

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
  /**
   * Incremental walk: the recorded paths that changed since the parent point
   * (created, modified, deleted or renamed — both names). Only directories on
   * the way to a changed path are read again; every other subtree of the parent
   * is reused without being walked. A changed directory is walked in full. The
   * set must be complete: a change not listed is not seen (run without
   * `changedPaths` — a rescan — to catch what events missed). Ignored (full
   * walk) without a parent point, or when the parent used other excludes.
   */
  changedPaths?: Iterable<string>;
  /**
   * Self-heal: chunk ids whose stored copies are bad. A file whose previous
   * chunk list names any of them is read again instead of reused, and those
   * chunks are stored again even though the index has them.
   */
  rereadChunks?: ReadonlySet<string>;
  /**
   * Windows attributes (FILE_ATTRIBUTE_* bits) of an entry, recorded as the
   * node's `attrs`; undefined leaves the field absent. Node's stat has none, so
   * the caller plugs a reader on Windows (see win-attrs.ts); on Linux there is
   * no such reader and trees carry no `attrs`.
   */
  attributes?: (readPath: string, st: BigIntStats) => number | undefined;
  host?: string;
  tags?: string[];
  /** A point id, "auto" (latest point of this host with the same paths; the default) or "none". */
  parent?: string;
  consistency?: "crash" | "application";
  /** Encoder worker threads (default: cores − 1, at least 1); 0 encodes on the calling thread. */
  workers?: number;
  /**
   * Packs being stored at once (default 3): each holds one pack buffer. A store whose put() does
   * more than one round trip (the agent's direct upload: missing check, put, index object, report)
   * hides that latency with more.
   */
  uploads?: number;
  onProgress?: (p: BackupProgress) => void;
  /** Extra snapshot fields supplied by callers (volume backups). */
  volumes?: Snapshot["volumes"];
  /**
   * Listings and lstats of `paths` taken while the repository was opening (the CLI starts
   * one before deriving the key): the walk takes them instead of listing those directories
   * again. Stopped when the walk starts. It knows no excludes: it may list what the walk then
   * skips (bounded work; the walk still applies every exclude).
   */
  prescan?: Prescan;
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
  /** Set for the first of several hard links seen: told the content once it is encoded (undefined: unreadable). */
  linked?: (content: FileContent | undefined) => void;
}

/** What encoding a file gave: its chunk ids and the bytes read. */
interface FileContent {
  ids: string[];
  bytes: number;
}

/** A file with more than one link, by device and inode: the first one read gives its content to the others. */
interface LinkedFile {
  size: number;
  mtimeNs: string;
  content: Promise<FileContent | undefined>;
}

/** A directory as saved: its tree id and what it holds. */
interface Dir {
  id: string;
  sum: Summary;
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
  const read = readChild(at.read, name);
  // Unmapped POSIX sources (the common case) share one string for all three.
  const record = !at.windows && at.read === at.record ? read : recordChild(at.record, name, at.windows);
  return { read, record, match: at.windows ? recordChild(at.match, name, false) : record, windows: at.windows };
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
  const saver = repo.newSaver(opts.uploads === undefined ? {} : { uploadConcurrency: opts.uploads });
  const run = new BackupRun(repo, saver, repo.encoderPool(opts.workers), opts, sources.some((s) => s.windows));
  const sameExcludes = JSON.stringify(parent?.snapshot.excludes ?? []) === JSON.stringify(opts.excludes ?? []);
  // Built (and so validated) even when unused: a bad changed path is a caller bug either way.
  // What the parent could not read is retried: its trees hold nothing (or an old copy) there.
  const changes = opts.changedPaths ? buildChanges(opts.changedPaths, parent?.snapshot.errors.map((e) => e.path) ?? []) : undefined;
  if (changes && parent && sameExcludes) run.changes = changes;
  if (opts.rereadChunks?.size) repo.index.distrust?.(opts.rereadChunks);

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
  // A full walk visits (nearly) every directory of the parent: read its listings ahead, by pack.
  const prefetch = parent && !run.changes ? run.prefetchParent(parent.snapshot.tree) : undefined;
  // From here the main thread is busy walking: scanning ahead would only compete with it.
  opts.prescan?.stop();
  const rootTree = await run.saveVirtual(root, "/", parent ? parent.snapshot.tree : undefined).finally(() => (run.walkDone = true));
  // No reads of this repository may outlive the call (at most one slice is still in flight).
  await prefetch;
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

/**
 * The parent listing when there is none or it could not be read: nothing to compare with,
 * and never "the same" as the directory (an empty directory must not take the id of a
 * parent listing that failed to load).
 */
const NO_PARENT: ReadonlyMap<string, TreeNode> = new Map();

/** Which recorded paths changed, as a tree of (case-folded for Windows) names. */
interface Change {
  children: Map<string, Change>;
  /** This path itself changed: walk it in full. */
  whole: boolean;
}

const NO_CHANGE: Change = { children: new Map(), whole: false };

const changeKey = (name: string, windows: boolean) => (windows ? name.toLowerCase() : name);

/** `retry`: paths the parent point failed to read; taken when well-formed (older points may hold others). */
function buildChanges(paths: Iterable<string>, retry: readonly string[]): Change {
  const root: Change = { children: new Map(), whole: false };
  const all = [...[...paths].map((p) => ({ p, strict: true })), ...retry.map((p) => ({ p, strict: false }))];
  for (const { p, strict } of all) {
    const windows = isWindowsPath(p);
    let parts: string[];
    try {
      parts = recordPathParts(p);
    } catch (e) {
      if (!strict) continue;
      throw new RepositoryError(`changed path: ${(e as Error).message}`);
    }
    let c = root;
    for (const part of parts) {
      const k = changeKey(part, windows);
      let n = c.children.get(k);
      if (!n) c.children.set(k, (n = { children: new Map(), whole: false }));
      c = n;
    }
    c.whole = true;
  }
  return root;
}

/** The changes below a source; null: walk it in full (it, or a directory above it, changed). */
function changesAt(root: Change, src: Source): Change | null {
  let c = root;
  if (c.whole) return null;
  for (const part of src.parts) {
    const n = c.children.get(changeKey(part, src.windows));
    if (!n) return NO_CHANGE;
    if (n.whole) return null;
    c = n;
  }
  return c;
}

/** What a subtree holds (not counting its own directory): added to the point's stats when it is reused. */
interface Summary {
  files: number;
  dirs: number;
  bytes: number;
}

/** Per repository, by tree id: lets an incremental point count reused subtrees without loading them. */
const summaries = new WeakMap<Repository, Map<string, Summary>>();
const MAX_SUMMARIES = 50_000;

function rememberSummary(repo: Repository, id: string, sum: Summary) {
  let m = summaries.get(repo);
  if (!m) summaries.set(repo, (m = new Map()));
  if (m.size >= MAX_SUMMARIES) m.clear();
  m.set(id, sum);
}

/**
 * Trees found sound, per repository, valid while no pack outside the condemned
 * set seen then gets condemned (a pack leaving the set — deleted after the
 * grace period — only removes chunks no sound tree used).
 */
const soundTrees = new WeakMap<Repository, { condemned: Set<string>; ids: Set<string> }>();

function soundSince(repo: Repository): Set<string> {
  let s = soundTrees.get(repo);
  let stale = !s;
  if (s) for (const p of repo.condemned) if (!s.condemned.has(p)) stale = true;
  if (stale) soundTrees.set(repo, (s = { condemned: new Set(repo.condemned), ids: new Set() }));
  return s!.ids;
}

function rememberSound(ids: Set<string>, id: string) {
  if (ids.size >= MAX_SUMMARIES) ids.clear();
  ids.add(id);
}

function summarize(nodes: readonly TreeNode[], sub: (n: TreeNode) => Summary | undefined): Summary {
  const s: Summary = { files: 0, dirs: 0, bytes: 0 };
  for (const n of nodes) {
    if (n.type === "file") {
      s.files++;
      s.bytes += n.size;
    } else if (n.type === "dir") {
      s.dirs++;
      const c = sub(n);
      if (c) {
        s.files += c.files;
        s.dirs += c.dirs;
        s.bytes += c.bytes;
      }
    }
  }
  return s;
}

/**
 * Whether `nodes` (in name order) hold exactly what the parent tree's `prev` holds, field
 * for field of the canonical encoding (tree.ts KEY_ORDER): then both encode to the same bytes.
 */
function sameNodes(nodes: readonly TreeNode[], prev: ReadonlyMap<string, TreeNode>): boolean {
  if (nodes.length !== prev.size) return false;
  let i = 0;
  for (const p of prev.values()) {
    const n = nodes[i++]!;
    if (
      n.name !== p.name ||
      n.type !== p.type ||
      n.mode !== p.mode ||
      n.uid !== p.uid ||
      n.gid !== p.gid ||
      n.mtimeNs !== p.mtimeNs ||
      n.size !== p.size ||
      n.dev !== p.dev ||
      n.inode !== p.inode ||
      n.attrs !== p.attrs ||
      n.target !== p.target ||
      n.subtree !== p.subtree ||
      !sameIds(n.content, p.content)
    ) {
      return false;
    }
  }
  return true;
}

function sameIds(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Decoded size of a tree, roughly as the repository's cache estimates it (1.5 × its JSON,
 * ~260 bytes of JSON per node). From the node count: an index lookup per tree cost more.
 */
function treeEstimate(t: Tree): number {
  return t.nodes.length * 400 + 200;
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
    this.reread = opts.rereadChunks?.size ? opts.rereadChunks : undefined;
    this.verifyReuse = this.reread !== undefined || repo.condemned.size > 0;
  }

  private reusable(content: readonly string[] | undefined): boolean {
    if (!content) return false;
    for (const c of content) if (!this.repo.index.usable(c) || this.reread?.has(c)) return false;
    return true;
  }

  /** Every chunk and tree below `id` is still usable (not condemned, not to be re-read). */
  private isSound(id: string): Promise<boolean> {
    let p = this.sound.get(id);
    // Verified by an earlier point while no further pack was condemned: still sound (after a
    // prune every incremental point would otherwise load every tree it reuses).
    if (!p && !this.reread && (this.knownSound ??= soundSince(this.repo)).has(id)) p = Promise.resolve(true);
    if (!p) {
      p = (async () => {
        if (!this.repo.index.usable(id)) return false;
        const t = await this.repo.loadTree(id);
        for (const n of t.nodes) {
          if (n.type === "file" && !this.reusable(n.content ?? [])) return false;
          if (n.type === "dir" && n.subtree && !(await this.isSound(n.subtree))) return false;
        }
        if (!this.reread) rememberSound((this.knownSound ??= soundSince(this.repo)), id);
        return true;
      })().catch(() => false);
      this.sound.set(id, p);
    }
    return p;
  }

  private async summaryOf(id: string): Promise<Summary> {
    const known = summaries.get(this.repo)?.get(id);
    if (known) return known;
    const t = await this.repo.loadTree(id);
    const subs = new Map<string, Summary>();
    for (const n of t.nodes) if (n.type === "dir" && n.subtree) subs.set(n.subtree, await this.summaryOf(n.subtree));
    const sum = summarize(t.nodes, (n) => (n.subtree ? subs.get(n.subtree) : undefined));
    rememberSummary(this.repo, id, sum);
    return sum;
  }

  /** An untouched subtree of the parent point, taken as it is; undefined when it cannot be (walk it instead). */
  private async reuseSubtree(id: string): Promise<Dir | undefined> {
    try {
      if (!this.repo.index.usable(id)) return undefined;
      if (this.verifyReuse && !(await this.isSound(id))) return undefined;
      const sum = await this.summaryOf(id);
      this.progress.files += sum.files;
      this.progress.dirs += sum.dirs;
      this.progress.bytes += sum.bytes;
      return { id, sum };
    } catch {
      // A damaged parent only costs walking: never fail the backup for it.
      return undefined;
    }
  }

  private readonly excludes: ExcludeMatcher | undefined;
  /** Set for an incremental walk (see BackupOptions.changedPaths). */
  changes: Change | undefined;
  private readonly reread: ReadonlySet<string> | undefined;
  /** Reused subtrees are checked only when something may have made their chunks unusable. */
  private readonly verifyReuse: boolean;
  private readonly sound = new Map<string, Promise<boolean>>();
  private knownSound: Set<string> | undefined;
  /**
   * Hard-linked files seen in this run (only those with nlink > 1), by dev:inode. Another
   * name of an inode already read takes its chunk list instead of being read, chunked,
   * hashed and compressed again: same bytes by definition (13 names of one 25 MB Mesa
   * driver are a fifth of the bytes of /usr/lib + /usr/share here).
   */
  private readonly links = new Map<string, LinkedFile>();

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

  /**
   * The parent point's listings in the walk's order (depth first, names in order), a
   * batch of upcoming directories at a time, each batch's tree blobs grouped by pack
   * into ranged reads: one GET per run instead of one per directory, and the walk
   * finds its listings decoded. It stays at most a quarter of the tree cache budget
   * ahead of what the walk has consumed (parentTree), so nothing it loads is evicted
   * before use; reading level by level instead stopped at the budget a third of the
   * way in, and the walk then read ~500 listings one GET each.
   */
  async prefetchParent(rootTree: string): Promise<void> {
    const window = this.repo.treeCacheLimit / 4;
    // Next listings to load, the walk's next one last (popped first).
    const stack = [rootTree];
    const seen = new Set<string>();
    while (stack.length && !this.walkDone) {
      while (this.prefetchAhead > window && !this.walkDone) await new Promise<void>((r) => (this.prefetchWake = r));
      const batch: string[] = [];
      while (batch.length < PREFETCH_BATCH && stack.length) {
        const id = stack.pop()!;
        if (seen.has(id)) continue;
        seen.add(id);
        batch.push(id);
      }
      const loaded = await this.repo.loadTrees(batch);
      // Children of the batch's last listing go deepest (they are popped last), the first one's on top.
      for (let b = batch.length - 1; b >= 0; b--) {
        const id = batch[b]!;
        const t = loaded.get(id);
        // A damaged listing is the walk's business (it falls back to re-reading).
        if (!t || t instanceof Error) continue;
        if (!this.consumed.has(id)) {
          const size = treeEstimate(t);
          this.prefetched.set(id, size);
          this.prefetchAhead += size;
        }
        for (let i = t.nodes.length - 1; i >= 0; i--) {
          const n = t.nodes[i]!;
          if (n.type === "dir" && n.subtree) stack.push(n.subtree);
        }
      }
    }
  }
  /** Set when the walk has finished: prefetching stops. */
  set walkDone(done: boolean) {
    this.walkFinished = done;
    this.prefetchWake?.();
  }
  get walkDone(): boolean {
    return this.walkFinished;
  }
  private walkFinished = false;
  /** Listings prefetched and not yet taken by the walk, with their estimated decoded size. */
  private readonly prefetched = new Map<string, number>();
  /** Listings the walk has taken (the prefetcher does not count them as ahead). */
  private readonly consumed = new Set<string>();
  private prefetchAhead = 0;
  private prefetchWake: (() => void) | undefined;

  private takeParent(id: string) {
    this.consumed.add(id);
    const size = this.prefetched.get(id);
    if (size === undefined) return;
    this.prefetched.delete(id);
    this.prefetchAhead -= size;
    const wake = this.prefetchWake;
    this.prefetchWake = undefined;
    wake?.();
  }

  /** `walked`: which subdirectories the walk will enter (all when absent); only those are prefetched. */
  private async parentTree(id: string | undefined, walked?: (name: string) => boolean): Promise<ReadonlyMap<string, TreeNode>> {
    if (!id) return NO_PARENT;
    this.takeParent(id);
    try {
      const t: Tree = await this.repo.loadTree(id);
      // Prefetch the parent's subdirectories the walk will want next, grouped by pack (cached ones cost nothing).
      const subtrees = t.nodes.filter((n) => n.type === "dir" && n.subtree && (!walked || walked(n.name))).map((n) => n.subtree!);
      if (subtrees.length) void this.repo.loadTrees(subtrees);
      return new Map(t.nodes.map((n) => [n.name, n]));
    } catch {
      // A damaged parent only costs re-reading: never fail the backup for it.
      return NO_PARENT;
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
        const n = await this.saveEntry(at, src.parts.at(-1)!, prev, this.changes ? changesAt(this.changes, src) : null);
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

  private async saveTree(nodes: TreeNode[]): Promise<string>;
  private async saveTree(nodes: TreeNode[], sub: (n: TreeNode) => Summary | undefined): Promise<Dir>;
  private async saveTree(nodes: TreeNode[], sub?: (n: TreeNode) => Summary | undefined): Promise<string | Dir> {
    const data = encodeTree(nodes);
    const id = this.repo.id(data);
    await this.saver.save(BLOB_TREE, id, data);
    if (!sub) return id;
    const sum = summarize(nodes, sub);
    rememberSummary(this.repo, id, sum);
    return { id, sum };
  }

  /** `change`: null walks everything below; otherwise only what it lists (the rest is reused from the parent). */
  private async saveDir(at: Place, parentTreeId: string | undefined, change: Change | null): Promise<Dir> {
    return (await this.walkDir(at, parentTreeId, change)).dir;
  }

  /**
   * Walks a directory depth first, handing its files to the encoder pool, and
   * returns as soon as everything below it is queued, so the walk moves on
   * while the workers encode (waiting for each directory's files left the
   * workers idle during the walk and the walk idle during encoding).
   * `dir` settles once every file below is encoded; pool.ready() bounds how
   * far the walk runs ahead of the workers.
   */
  private async walkDir(at: Place, parentTreeId: string | undefined, change: Change | null): Promise<{ dir: Promise<Dir> }> {
    if (change && change.children.size === 0 && parentTreeId) {
      const reused = await this.reuseSubtree(parentTreeId);
      if (reused) return { dir: Promise.resolve(reused) };
      change = null;
    }
    const scanned = this.opts.prescan?.take(at.read);
    let names: string[];
    try {
      names = scanned ? scanned.names : readdirSync(at.read).sort();
    } catch (e) {
      this.fail(at.record, e);
      return { dir: this.saveTree([], () => undefined) };
    }
    // An incremental walk enters only changed subdirectories: prefetching the others would load trees it reuses by id.
    const parentNodes = await this.parentTree(parentTreeId, change ? (name) => change.children.has(changeKey(name, at.windows)) : undefined);
    const nodes: Array<TreeNode | undefined> = new Array(names.length);
    const toRead: PendingFile[] = [];
    const followers: Array<Promise<unknown>> = [];
    const drop = (slot: number) => (nodes[slot] = undefined);
    const subdirs: Array<{ node: TreeNode; at: Place; prev: TreeNode | undefined; change: Change | null }> = [];
    names.forEach((name, i) => {
      const child = childPlace(at, name);
      if (this.isExcluded(child)) return;
      const prev = parentNodes.get(name);
      const r = this.inspect(child, name, prev, scanned?.stats[i]);
      if (!r) return;
      nodes[i] = r.node;
      if (r.read) {
        const f: PendingFile = { path: child.read, record: child.record, node: r.node, slot: i };
        const follows = r.link === undefined ? undefined : this.follow(r.link, f, drop);
        if (follows) {
          // Awaited below (Promise.all); this only stops an early unhandled-rejection report.
          follows.catch(() => undefined);
          followers.push(follows);
        }
        else toRead.push(f);
      }
      if (r.node.type === "dir") {
        const c = change === null ? null : (change.children.get(changeKey(name, at.windows)) ?? NO_CHANGE);
        subdirs.push({ node: r.node, at: child, prev, change: c && !c.whole ? c : null });
      }
    });
    await this.pool.ready();
    const reading = this.readFiles(toRead, drop);
    // Awaited below (Promise.all); this only stops an early unhandled-rejection report while the walk descends.
    reading.catch(() => undefined);
    const pending: Array<Promise<unknown>> = [reading, ...followers];
    const subSums = new Map<TreeNode, Summary>();
    for (const d of subdirs) {
      const sub = await this.walkDir(d.at, d.prev?.type === "dir" ? d.prev.subtree : undefined, d.change);
      const done = sub.dir.then((s) => {
        d.node.subtree = s.id;
        subSums.set(d.node, s.sum);
      });
      done.catch(() => undefined);
      pending.push(done);
    }
    const dir = Promise.all(pending).then(() => {
      const kept = nodes.filter((n): n is TreeNode => n !== undefined);
      const sub = (n: TreeNode) => subSums.get(n);
      // Most directories of a later point are exactly the parent's: its tree id is then
      // this one's (same canonical bytes), with no encoding, hashing or saving.
      if (parentTreeId && parentNodes !== NO_PARENT && sameNodes(kept, parentNodes) && this.repo.index.usable(parentTreeId) && !this.reread?.has(parentTreeId)) {
        const sum = summarize(kept, sub);
        rememberSummary(this.repo, parentTreeId, sum);
        return { id: parentTreeId, sum };
      }
      return this.saveTree(kept, sub);
    });
    dir.catch(() => undefined);
    return { dir };
  }

  /**
   * lstat + everything that needs no file content. `read` → content must be encoded.
   * Synchronous: a cached lstat is a few µs, a thread-pool round trip far more,
   * and the walk visits every file of the machine.
   */
  private inspect(at: Place, name: string, prev: TreeNode | undefined, scanned?: ScannedEntry): { node: TreeNode; read: boolean; link?: string } | undefined {
    let st: BigIntStats | undefined;
    let node: TreeNode;
    let nlink: number;
    try {
      if (this.opts.attributes) {
        // The attribute reader is handed the whole Stats.
        st = lstatSync(at.read, { bigint: true });
        node = metaNode(name, st);
        nlink = Number(st.nlink);
      } else {
        ({ node, nlink } = scanned ?? lstatMeta(name, at.read));
      }
    } catch (e) {
      this.fail(at.record, e);
      return undefined;
    }
    if (this.opts.attributes && st) {
      try {
        const a = this.opts.attributes(at.read, st);
        if (a !== undefined) node.attrs = a;
      } catch {
        // Attributes are secondary metadata: a reader failing must not cost the file.
      }
    }
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
    if (prev && prev.type === "file" && prev.size === node.size && prev.mtimeNs === node.mtimeNs && prev.inode === node.inode && this.reusable(prev.content)) {
      node.content = prev.content;
      this.report(at.record);
      return { node, read: false };
    }
    return nlink > 1 ? { node, read: true, link: `${node.dev}:${node.inode}` } : { node, read: true };
  }

  /**
   * Registers a hard-linked file about to be read (returns undefined: read it), or,
   * when another name of the same unchanged inode was read first in this run, returns
   * the promise that gives `f` that content (or reads `f` after all if that read failed).
   */
  private follow(key: string, f: PendingFile, dropped: (slot: number) => void): Promise<void> | undefined {
    const seen = this.links.get(key);
    if (seen && seen.size === f.node.size && seen.mtimeNs === f.node.mtimeNs) {
      return seen.content.then((c) => {
        if (c) {
          f.node.content = c.ids;
          f.node.size = c.bytes;
          return;
        }
        return this.readFiles([f], dropped);
      });
    }
    let tell!: (c: FileContent | undefined) => void;
    const content = new Promise<FileContent | undefined>((r) => (tell = r));
    this.links.set(key, { size: f.node.size, mtimeNs: f.node.mtimeNs, content });
    f.linked = tell;
    return undefined;
  }

  /** A backup source itself (file or directory). */
  private async saveEntry(at: Place, name: string, prev: TreeNode | undefined, change: Change | null): Promise<TreeNode | undefined> {
    const r = this.inspect(at, name || basename(at.read), prev);
    if (!r) return undefined;
    if (r.node.type === "dir") r.node.subtree = (await this.saveDir(at, prev?.type === "dir" ? prev.subtree : undefined, change)).id;
    let failed = false;
    if (r.read) await this.readFiles([{ path: at.read, record: at.record, node: r.node, slot: 0 }], () => (failed = true));
    return failed ? undefined : r.node;
  }

  /** The pool batches small files (from many directories) into shared jobs. */
  private async readFiles(files: PendingFile[], dropped: (slot: number) => void): Promise<void> {
    const batches = files.length ? [files] : [];
    await Promise.all(
      batches.map(async (batch) => {
        const results = await this.pool
          .encode(
            batch.map((f) => ({ path: f.path, size: f.node.size })),
            async (_file, c) => {
              this.progress.readBytes += c.rawLength;
              if (!this.saver.known(c.id)) await this.saver.saveCompressed(BLOB_DATA, c.id, c.rawLength, c.compressed);
            },
            // Chunks stored already (or earlier in this run) are not compressed on the main thread.
            { known: (id) => this.saver.known(id) },
          )
          .catch((e) => {
            // Other names of these inodes must not wait forever for content that never comes.
            for (const f of batch) f.linked?.(undefined);
            throw e;
          });
        results.forEach((r, i) => {
          const f = batch[i]!;
          if ("error" in r) {
            this.fail(f.record, { code: r.error });
            dropped(f.slot);
            f.linked?.(undefined);
            return;
          }
          f.node.content = r.ids;
          // The file may have changed while being read: the tree describes what was captured.
          f.node.size = r.bytes;
          f.linked?.(r);
        });
        this.report(batch.at(-1)!.record);
      }),
    );
  }
}
