/**
 * Directory objects. A tree is canonical JSON (entries sorted by name, keys
 * in a fixed order, absent fields omitted) stored as a TREE blob whose id is
 * the keyed hash of those bytes: identical directories share one id, so an
 * unchanged subtree costs nothing in the next recovery point.
 */
import { z } from "zod";

const hexId = z.string().regex(/^[0-9a-f]{64}$/);

export const nodeSchema = z.object({
  name: z.string().min(1),
  type: z.enum(["file", "dir", "symlink", "other"]),
  mode: z.number().int().nonnegative(),
  uid: z.number().int().nonnegative(),
  gid: z.number().int().nonnegative(),
  /** Nanoseconds since the epoch as a decimal string (exceeds 2^53). */
  mtimeNs: z.string().regex(/^-?\d+$/),
  size: z.number().int().nonnegative(),
  /** Device/inode at capture: with size+mtime they decide "unchanged, reuse chunks". */
  dev: z.string().optional(),
  inode: z.string().optional(),
  /** Windows file attributes when the source has them. */
  attrs: z.number().int().optional(),
  target: z.string().optional(),
  content: z.array(hexId).optional(),
  subtree: hexId.optional(),
});
export type TreeNode = z.infer<typeof nodeSchema>;

export const treeSchema = z.object({ v: z.literal(1), nodes: z.array(nodeSchema) });
export type Tree = z.infer<typeof treeSchema>;

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

export function decodeTree(data: Buffer): Tree {
  return treeSchema.parse(JSON.parse(data.toString("utf8")));
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
