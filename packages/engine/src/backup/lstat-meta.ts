/**
 * An entry's tree-node metadata from lstat, without building a BigIntStats.
 *
 * The walk lstats every file of every point. `lstatSync(p, { bigint: true })`
 * (needed for exact nanosecond mtimes) turns the kernel's numbers into ~18
 * BigInts and 4 Dates per call: in a second-backup profile (50k files) that
 * construction cost ~150 ms of the main thread's ~1.2 s, besides its garbage.
 * Node's own fs binding returns the raw numbers (seconds and nanoseconds apart)
 * in a Float64Array: exact as long as each is a safe integer, which is checked
 * per call. Anything unusual — a platform other than Linux/macOS, a binding
 * that is not there or answers differently than documented below, a value
 * beyond 2^53, an error — goes through lstatSync, and the first call compares
 * both ways once: a mismatch turns the fast path off for good. Same node, same
 * exact strings as metaNode(lstatSync(p, { bigint: true })).
 */
import { lstatSync } from "node:fs";
import type { BigIntStats } from "node:fs";
import type { TreeNode } from "../tree";

/** What the walk needs of an lstat: the entry's tree node (metadata only) and its link count. */
export interface ScannedEntry {
  node: TreeNode;
  nlink: number;
}

/** A tree node's metadata from an lstat (content and subtree are the walk's). */
export function metaNode(name: string, st: BigIntStats): TreeNode {
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

type RawLstat = (path: string, bigint: false, req: undefined, throwIfNoEntry: boolean) => Float64Array | undefined;

/** Field positions in the binding's stat array (node/src/node_file.h FsStatsOffset). */
const DEV = 0;
const MODE = 1;
const NLINK = 2;
const UID = 3;
const GID = 4;
const INO = 7;
const SIZE = 8;
const MTIME_SEC = 12;
const MTIME_NSEC = 13;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

let raw: RawLstat | undefined = (() => {
  if (process.platform !== "linux" && process.platform !== "darwin") return undefined;
  try {
    // Deprecated for public use but present through Node 20/22; verified on first use (below).
    const b = (process as unknown as { binding(name: string): { lstat?: unknown } }).binding("fs");
    return typeof b.lstat === "function" ? (b.lstat as RawLstat).bind(b) : undefined;
  } catch {
    return undefined;
  }
})();
let verified = false;

function nsString(sec: number, nsec: number): string {
  if (sec > 0 && nsec >= 0 && nsec < 1e9) return `${sec}${String(nsec).padStart(9, "0")}`;
  return (BigInt(sec) * 1_000_000_000n + BigInt(nsec)).toString();
}

function fast(name: string, path: string): ScannedEntry | undefined {
  let a: Float64Array | undefined;
  try {
    a = raw!(path, false, undefined, true);
  } catch {
    return undefined;
  }
  if (!(a instanceof Float64Array) || a.length < 14) return undefined;
  const dev = a[DEV]!;
  const mode = a[MODE]!;
  const ino = a[INO]!;
  const size = a[SIZE]!;
  const sec = a[MTIME_SEC]!;
  const nsec = a[MTIME_NSEC]!;
  if (!Number.isSafeInteger(dev) || !Number.isSafeInteger(ino) || !Number.isSafeInteger(size) || !Number.isSafeInteger(sec) || !Number.isSafeInteger(nsec)) return undefined;
  const fmt = mode & S_IFMT;
  const file = fmt === S_IFREG;
  return {
    node: {
      name,
      type: fmt === S_IFDIR ? "dir" : file ? "file" : fmt === S_IFLNK ? "symlink" : "other",
      mode,
      uid: a[UID]!,
      gid: a[GID]!,
      mtimeNs: nsString(sec, nsec),
      size: file ? size : 0,
      dev: String(dev),
      inode: String(ino),
    },
    nlink: a[NLINK]!,
  };
}

function slow(name: string, path: string): ScannedEntry {
  const st = lstatSync(path, { bigint: true });
  return { node: metaNode(name, st), nlink: Number(st.nlink) };
}

/** metaNode(name, lstat(path)) and the link count; throws lstatSync's error. */
export function lstatMeta(name: string, path: string): ScannedEntry {
  if (raw && !path.includes("\0")) {
    const f = fast(name, path);
    if (f) {
      if (verified) return f;
      const s = slow(name, path);
      if (JSON.stringify(s) === JSON.stringify(f)) verified = true;
      else raw = undefined;
      return s;
    }
  }
  return slow(name, path);
}

/** Tests: whether the fast path is in use (after at least one call). */
export function lstatMetaFast(): boolean {
  return raw !== undefined && verified;
}
