/**
 * Listings and lstats of the backup sources taken ahead of the walk, while the
 * main thread would otherwise wait: opening a repository derives the key with
 * scrypt in the thread pool (~0.2–0.4 s here), and the walk cannot start
 * before the parent point's listings can be read. The scan visits directories
 * in the walk's order (depth first, names sorted), in short slices so the
 * opening's callbacks are not held up, and stops as soon as the backup starts
 * walking; the walk takes each scanned directory once (and lstats the rest
 * itself). A stat taken a moment earlier describes the file exactly as the
 * walk's own would have had it run then: the backup is not atomic either way.
 */
import { lstatSync, readdirSync } from "node:fs";
import { resolve, sep } from "node:path";
import { lstatMeta, type ScannedEntry } from "./lstat-meta";

export type { ScannedEntry };

export interface ScannedDir {
  /** Sorted entry names. */
  names: string[];
  /**
   * Each name's metadata (same positions); undefined where lstat failed (the walk tries
   * again and reports). Kept as tree nodes, not Stats: a BigIntStats with its Dates is
   * several times larger and, held until the walk gets there, costs old-generation GC.
   */
  stats: Array<ScannedEntry | undefined>;
}

/** Entries held at most (~300 bytes each): a bound on memory, not on how far the scan may get. */
const MAX_ENTRIES = 60_000;
/** Longest synchronous stretch: the opening's I/O callbacks wait at most this long. */
const SLICE_MS = 4;

/** `dir` + one name, as the walk spells it (a root such as "/" keeps its single separator). */
export function readChild(dir: string, name: string): string {
  return dir.endsWith(sep) || dir.endsWith("/") ? dir + name : dir + sep + name;
}

export class Prescan {
  private readonly dirs = new Map<string, ScannedDir>();
  /** Directories still to list, the next one last. */
  private readonly stack: string[];
  private entries = 0;
  private readonly sources = new Set<string>();
  private stopped = false;

  /** Starts scanning `paths` (resolved as backup() resolves them) on the next turns of the event loop. */
  constructor(paths: readonly string[]) {
    this.stack = [...new Set(paths.map((p) => resolve(p)))].sort().reverse();
    for (const p of this.stack) this.sources.add(p);
    setImmediate(() => this.slice());
  }

  /** No more scanning; what was scanned stays available to take(). */
  stop(): void {
    this.stopped = true;
  }

  /** The scanned listing of `dir`, handed out once (then forgotten). */
  take(dir: string): ScannedDir | undefined {
    const d = this.dirs.get(dir);
    if (d) this.dirs.delete(dir);
    return d;
  }

  /** Directories scanned and not yet taken (tests). */
  get pending(): number {
    return this.dirs.size;
  }

  private slice() {
    const until = performance.now() + SLICE_MS;
    while (!this.stopped && this.stack.length && this.entries < MAX_ENTRIES) {
      const dir = this.stack.pop()!;
      if (this.dirs.has(dir)) continue;
      let names: string[];
      try {
        // A source that is a link to a directory is recorded as the link: nothing below it is walked.
        if (this.sources.has(dir) && !lstatSync(dir).isDirectory()) continue;
        names = readdirSync(dir).sort();
      } catch {
        // Not a directory (a file given as a source) or unreadable: the walk finds out and reports.
        continue;
      }
      const stats: Array<ScannedEntry | undefined> = new Array(names.length);
      const subdirs: string[] = [];
      for (let i = 0; i < names.length; i++) {
        const child = readChild(dir, names[i]!);
        try {
          const e = lstatMeta(names[i]!, child);
          stats[i] = e;
          if (e.node.type === "dir") subdirs.push(child);
        } catch {
          stats[i] = undefined;
        }
      }
      this.entries += names.length;
      this.dirs.set(dir, { names, stats });
      for (let i = subdirs.length - 1; i >= 0; i--) this.stack.push(subdirs[i]!);
      if (performance.now() >= until) break;
    }
    if (!this.stopped && this.stack.length && this.entries < MAX_ENTRIES) setImmediate(() => this.slice());
  }
}
