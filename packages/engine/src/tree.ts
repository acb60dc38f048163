/**
 * Directory objects. A tree is canonical JSON (entries sorted by name, keys
 * in a fixed order, absent fields omitted) stored as a TREE blob whose id is
 * the keyed hash of those bytes: identical directories share one id, so an
 * unchanged subtree costs nothing in the next recovery point.
 */
export type NodeType = "file" | "dir" | "symlink" | "other";

export interface TreeNode {
  name: string;
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  /** Nanoseconds since the epoch as a decimal string (exceeds 2^53). */
  mtimeNs: string;
  size: number;
  /** Device/inode at capture: with size+mtime they decide "unchanged, reuse chunks". */
  dev?: string;
  inode?: string;
  /** Windows file attributes when the source has them. */
  attrs?: number;
  target?: string;
  content?: string[];
  subtree?: string;
}

export interface Tree {
  v: 1;
  nodes: TreeNode[];
}

const KEY_ORDER = ["name", "type", "mode", "uid", "gid", "mtimeNs", "size", "dev", "inode", "attrs", "target", "content", "subtree"] as const;

export function encodeTree(nodes: TreeNode[]): Buffer {
  const sorted = [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.name === sorted[i - 1]!.name) throw new Error(`duplicate name in tree: ${sorted[i]!.name}`);
  }
  const canon = sorted.map((n) => {
    const o: Record<string, unknown> = {};
    for (const k of KEY_ORDER) if (n[k] !== undefined) o[k] = n[k];
    return o;
  });
  return Buffer.from(JSON.stringify({ v: 1, nodes: canon }));
}

/**
 * Parses and validates a tree. Hand-written rather than a zod schema: restore and backup decode
 * every directory of a point (zod cost ~1 s of a 50k-file restore's planning). Throws an Error
 * naming the first bad field (`nodes[3].mode: expected a non-negative integer, got -1`); fields
 * this version does not know are dropped, as a stripping schema would.
 */
export function decodeTree(data: Uint8Array): Tree {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"));
  } catch (e) {
    throw new TreeFormatError(`not JSON (${(e as Error).message})`);
  }
  if (!isObject(raw)) throw new TreeFormatError(`expected an object, got ${describe(raw)}`);
  if (raw.v !== 1) throw new TreeFormatError(`v: expected 1, got ${describe(raw.v)}`);
  const nodes = raw.nodes;
  if (!Array.isArray(nodes)) throw new TreeFormatError(`nodes: expected an array, got ${describe(nodes)}`);
  let prev: string | undefined;
  for (let i = 0; i < nodes.length; i++) {
    const n = checkNode(nodes[i], i);
    // Canonical trees are sorted with no name twice. A duplicate would let a crafted tree put a
    // symlink and a directory (or file) at one path, and restore would then write through the link.
    if (prev !== undefined && !(prev < n.name)) {
      throw new TreeFormatError(`nodes[${i}].name: ${describe(n.name)} ${prev === n.name ? "appears twice" : `is out of order after ${describe(prev)}`} (a tree's names are unique and sorted)`);
    }
    prev = n.name;
    nodes[i] = n;
  }
  return { v: 1, nodes: nodes as TreeNode[] };
}

export class TreeFormatError extends Error {}

const NODE_TYPES = new Set(["file", "dir", "symlink", "other"]);
const HEX_ID = /^[0-9a-f]{64}$/;
const DECIMAL = /^-?\d+$/;

function checkNode(n: unknown, i: number): TreeNode {
  const at = (field: string) => `nodes[${i}].${field}`;
  const bad = (field: string, expected: string, got: unknown) => new TreeFormatError(`${at(field)}: expected ${expected}, got ${describe(got)}`);
  if (!isObject(n)) throw new TreeFormatError(`nodes[${i}]: expected an object, got ${describe(n)}`);
  let keys = 0;
  const name = n.name;
  if (typeof name !== "string" || name === "") throw bad("name", "a non-empty string", name);
  if (typeof n.type !== "string" || !NODE_TYPES.has(n.type)) throw bad("type", '"file", "dir", "symlink" or "other"', n.type);
  for (const f of ["mode", "uid", "gid", "size"] as const) {
    const v = n[f];
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw bad(f, "a non-negative integer", v);
  }
  if (typeof n.mtimeNs !== "string" || !DECIMAL.test(n.mtimeNs)) throw bad("mtimeNs", "a decimal string", n.mtimeNs);
  keys += 7;
  for (const f of ["dev", "inode", "target"] as const) {
    if (n[f] === undefined) continue;
    if (typeof n[f] !== "string") throw bad(f, "a string", n[f]);
    keys++;
  }
  if (n.attrs !== undefined) {
    if (!Number.isSafeInteger(n.attrs)) throw bad("attrs", "an integer", n.attrs);
    keys++;
  }
  if (n.content !== undefined) {
    const c = n.content;
    if (!Array.isArray(c)) throw bad("content", "an array of chunk ids", c);
    for (let j = 0; j < c.length; j++) if (typeof c[j] !== "string" || !HEX_ID.test(c[j])) throw bad(`content[${j}]`, "a 64-digit lowercase hex id", c[j]);
    keys++;
  }
  if (n.subtree !== undefined) {
    if (typeof n.subtree !== "string" || !HEX_ID.test(n.subtree)) throw bad("subtree", "a 64-digit lowercase hex id", n.subtree);
    keys++;
  }
  // Every key known (the usual case): the parsed object is the node; otherwise a copy without the rest.
  if (Object.keys(n).length === keys) return n as unknown as TreeNode;
  const clean: Record<string, unknown> = {};
  for (const k of KEY_ORDER) if (n[k] !== undefined) clean[k] = n[k];
  return clean as unknown as TreeNode;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function describe(x: unknown): string {
  if (x === undefined) return "nothing";
  const s = JSON.stringify(x);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * A tree entry name is a single path component. Anything else would let a
 * crafted or damaged tree write outside the restore target.
 */
export function isSafeName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/") && !name.includes("\\") && !name.includes("\0") && !/^[A-Za-z]:/.test(name);
}

/** A recorded path in Windows form: "C:\…", "C:/…", "C:", "\\server\share\…" or "\\?\…". */
export function isWindowsPath(p: string): boolean {
  return /^[A-Za-z]:([\\/]|$)/.test(p) || p.startsWith("\\\\");
}

/**
 * The tree components an absolute recorded path is stored under. POSIX paths
 * split on "/". Windows paths split on both separators; the drive becomes its
 * own upper-case component without the colon ("C:\Users\a" → C, Users, a),
 * because restore refuses names that carry a drive letter; a share becomes
 * UNC, server, share, …; a "\\?\" prefix is dropped.
 */
export function recordPathParts(p: string): string[] {
  let parts: string[];
  if (isWindowsPath(p)) {
    let rest = p.replace(/^\\\\\?\\/, "");
    if (/^UNC\\/i.test(rest)) rest = `\\\\${rest.slice(4)}`;
    const drive = /^([A-Za-z]):([\\/]|$)/.exec(rest);
    if (drive) parts = [drive[1]!.toUpperCase(), ...rest.slice(2).split(/[\\/]/)];
    else if (rest.startsWith("\\\\")) parts = ["UNC", ...rest.slice(2).split(/[\\/]/)];
    else throw new Error(`not an absolute Windows path: ${JSON.stringify(p)}`);
  } else {
    if (!p.startsWith("/")) throw new Error(`a recorded path must be absolute: ${JSON.stringify(p)}`);
    parts = p.split("/");
  }
  parts = parts.filter((x) => x !== "" && x !== ".");
  if (parts.some((x) => x === ".." || x.includes("\0"))) throw new Error(`a recorded path may not contain ".." or NUL: ${JSON.stringify(p)}`);
  return parts;
}

/** The canonical text of a recorded path: "C:\Users\a", "\\server\share\x" or "/home/a". */
export function formatRecordPath(parts: string[], windows: boolean): string {
  if (!windows) return `/${parts.join("/")}`;
  if (parts[0] === "UNC") return `\\\\${parts.slice(1).join("\\")}`;
  return `${parts[0]}:\\${parts.slice(1).join("\\")}`;
}

/**
 * Components of a path to look up inside a point: a Windows path as recorded
 * ("C:\Users\a") or its tree form ("/C/Users/a", "C/Users/a").
 */
export function treePathParts(p: string): string[] {
  if (isWindowsPath(p)) return recordPathParts(p);
  return p.split("/").filter((x) => x !== "" && x !== ".");
}
