/**
 * Reading a recovery point's files on the server (portal file browser,
 * downloads): trees and file chunks located through the PostgreSQL index and
 * read with ranged GETs from the customer's container, every chunk checked
 * (GCM tag + keyed id) before a byte of it is used. The customer's data key
 * never leaves this process.
 */
import { createHash } from "node:crypto";
import { type DbOrTx, schema, scopeTo, type TenantScope } from "@tidemark/db";
import { and, desc, eq, lt } from "drizzle-orm";
import type { BlobStore } from "@tidemark/storage";
import type { BlobAccount } from "./blob-account";
import { decodeTree, isSafeName, type RepoKeys, type Tree, type TreeNode } from "./engine";
import { notFound } from "./errors";
import { customerDataKey, type CustomerScope, type Kek } from "./kek";
import { PgIndex } from "./pg-index";
import { readChunk, repositoryKeys } from "./read";

export type FileEntry = {
  name: string;
  /** Slash-separated from the point's root ("data/docs/a.txt"): what restores and downloads take. */
  path: string;
  type: TreeNode["type"];
  size: number;
  mtime: string;
  /** Identifies the content: equal for two versions with the same bytes. */
  contentKey: string | null;
};

export class PathNotFound extends Error {
  constructor(readonly path: string) {
    super(`Path not found in this recovery point: /${path}`);
    this.name = "PathNotFound";
  }
}

/** Chunks read ahead per file: enough to keep a ranged GET in flight while the previous one is sent. */
const READ_AHEAD = 4;
/** Trees kept decoded per reader (one request or one download). */
const TREE_CACHE = 2000;

export function splitPath(path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  for (const p of parts) if (!isSafeName(p)) throw new PathNotFound(path);
  return parts;
}

function mtimeOf(node: TreeNode): string {
  const ms = Number(BigInt(node.mtimeNs) / 1_000_000n);
  return new Date(ms).toISOString();
}

function contentKey(node: TreeNode): string | null {
  if (node.type === "file") return createHash("sha256").update(`${node.size}:${(node.content ?? []).join(",")}`).digest("hex").slice(0, 32);
  if (node.type === "dir") return node.subtree ?? null;
  return node.target ?? null;
}

export function toEntry(parent: string, node: TreeNode): FileEntry {
  return {
    name: node.name,
    path: parent ? `${parent}/${node.name}` : node.name,
    type: node.type,
    size: node.size,
    mtime: mtimeOf(node),
    contentKey: contentKey(node),
  };
}

export class PointFiles {
  private readonly trees = new Map<string, Promise<Tree>>();
  private readonly index: PgIndex;

  constructor(
    db: DbOrTx,
    readonly store: BlobStore,
    private readonly keys: RepoKeys,
    scope: CustomerScope,
  ) {
    this.index = new PgIndex(db, scope);
  }

  tree(id: string): Promise<Tree> {
    let t = this.trees.get(id);
    if (!t) {
      t = (async () => {
        if (!this.index.lookup(id)) await this.index.load([id]);
        return decodeTree(await readChunk(this.store, this.keys, this.index, id));
      })();
      t.catch(() => this.trees.delete(id));
      if (this.trees.size > TREE_CACHE) this.trees.clear();
      this.trees.set(id, t);
    }
    return t;
  }

  /** The node at `path` (null for the root itself). */
  async locate(rootTree: string, path: string): Promise<{ node: TreeNode | null; tree: string | null }> {
    const parts = splitPath(path);
    let tree = rootTree;
    let node: TreeNode | null = null;
    for (const [i, name] of parts.entries()) {
      const found = (await this.tree(tree)).nodes.find((n) => n.name === name);
      if (!found) throw new PathNotFound(parts.join("/"));
      node = found;
      if (i < parts.length - 1) {
        if (found.type !== "dir" || !found.subtree) throw new PathNotFound(parts.join("/"));
        tree = found.subtree;
      }
    }
    if (!node) return { node: null, tree: rootTree };
    return { node, tree: node.type === "dir" ? (node.subtree ?? null) : null };
  }

  /** One directory level: what a lazy tree view expands. */
  async list(rootTree: string, path: string): Promise<FileEntry[]> {
    const { node, tree } = await this.locate(rootTree, path);
    if (node && node.type !== "dir") throw new PathNotFound(path);
    if (!tree) return [];
    const parent = splitPath(path).join("/");
    const nodes = (await this.tree(tree)).nodes;
    return nodes.map((n) => toEntry(parent, n)).sort((a, b) => Number(b.type === "dir") - Number(a.type === "dir") || a.name.localeCompare(b.name));
  }

  /** Every node under `path`, depth first, parents before children. */
  async *walk(rootTree: string, path: string): AsyncGenerator<{ entry: FileEntry; node: TreeNode }> {
    const { node, tree } = await this.locate(rootTree, path);
    const base = splitPath(path).join("/");
    if (node && node.type !== "dir") {
      yield { entry: toEntry(base.split("/").slice(0, -1).join("/"), node), node };
      return;
    }
    if (!tree) return;
    const stack: Array<{ parent: string; tree: string }> = [{ parent: base, tree }];
    while (stack.length > 0) {
      const cur = stack.pop()!;
      const nodes = (await this.tree(cur.tree)).nodes;
      for (const n of nodes) {
        if (!isSafeName(n.name)) continue;
        const entry = toEntry(cur.parent, n);
        yield { entry, node: n };
        if (n.type === "dir" && n.subtree) stack.push({ parent: entry.path, tree: n.subtree });
      }
    }
  }

  /** Names containing `query` (case-insensitive), anywhere in the point; stops after `limit`. */
  async search(rootTree: string, query: string, limit: number): Promise<{ results: FileEntry[]; truncated: boolean }> {
    const q = query.toLowerCase();
    const results: FileEntry[] = [];
    for await (const { entry } of this.walk(rootTree, "")) {
      if (!entry.name.toLowerCase().includes(q)) continue;
      if (results.length === limit) return { results, truncated: true };
      results.push(entry);
    }
    return { results, truncated: false };
  }

  /** A file's bytes in order; each chunk verified before it is yielded. */
  async *read(node: TreeNode): AsyncGenerator<Buffer> {
    if (node.type !== "file") throw new Error(`not a file: ${node.name}`);
    const ids = node.content ?? [];
    const unknown = ids.filter((id) => !this.index.lookup(id));
    if (unknown.length > 0) await this.index.load(unknown);
    const inFlight: Array<Promise<Buffer>> = [];
    let next = 0;
    const fill = () => {
      while (inFlight.length < READ_AHEAD && next < ids.length) {
        const p = readChunk(this.store, this.keys, this.index, ids[next++]!);
        p.catch(() => {}); // awaited in order below; this only stops an unhandled rejection
        inFlight.push(p);
      }
    };
    let total = 0;
    fill();
    while (inFlight.length > 0) {
      const chunk = await inFlight.shift()!;
      fill();
      total += chunk.length;
      yield chunk;
    }
    if (total !== node.size) throw new Error(`${node.name}: read ${total} bytes, the tree records ${node.size}`);
  }
}

/** The reader for one customer's repository; null when the customer has no repository yet. */
export async function customerFiles(db: DbOrTx, kek: Kek, blobs: BlobAccount, scope: CustomerScope): Promise<PointFiles | null> {
  const dataKey = await customerDataKey(db, kek, scope);
  if (!dataKey) return null;
  return new PointFiles(db, blobs.container(scope.customerId).store, repositoryKeys(dataKey), scope);
}

/** A point of the scope with what the browser needs to find its root. */
export async function pointRoot(db: DbOrTx, scope: TenantScope, pointId: string) {
  const rp = schema.recoveryPoints;
  const [row] = await db
    .select({ id: rp.id, mspId: rp.mspId, customerId: rp.customerId, machineId: rp.machineId, time: rp.time, manifest: rp.manifest })
    .from(rp)
    .where(and(scopeTo(rp, scope), eq(rp.id, pointId)));
  if (!row) throw notFound("Recovery point");
  const rootTree = (row.manifest as { rootTree?: unknown }).rootTree;
  if (typeof rootTree !== "string") throw new Error(`recovery point ${pointId} has no root tree`);
  return { ...row, rootTree };
}

export type FileVersion = { pointId: string; time: Date; entry: FileEntry; changed: boolean };

/**
 * One path across a machine's points, newest first: each point where it exists,
 * with `changed` marking the points where its content differs from the next older one.
 */
export async function fileVersions(files: PointFiles, db: DbOrTx, scope: TenantScope, machineId: string, path: string, limit = 200): Promise<FileVersion[]> {
  const rp = schema.recoveryPoints;
  const points = await db
    .select({ id: rp.id, time: rp.time, manifest: rp.manifest })
    .from(rp)
    .where(and(scopeTo(rp, scope), eq(rp.machineId, machineId)))
    .orderBy(desc(rp.time))
    .limit(limit);
  const parent = splitPath(path).slice(0, -1).join("/");
  const found: FileVersion[] = [];
  for (const p of points) {
    const root = (p.manifest as { rootTree?: string }).rootTree;
    if (!root) continue;
    try {
      const { node } = await files.locate(root, path);
      if (node) found.push({ pointId: p.id, time: p.time, entry: toEntry(parent, node), changed: true });
    } catch (e) {
      if (!(e instanceof PathNotFound)) throw e;
    }
  }
  for (let i = 0; i < found.length - 1; i++) found[i]!.changed = found[i]!.entry.contentKey !== found[i + 1]!.entry.contentKey;
  return found;
}

export type PointChange = { path: string; change: "added" | "modified" | "deleted"; type: TreeNode["type"]; size: number };

/**
 * What changed from `older` to `newer` (root trees of two points). Subtrees
 * with equal ids are skipped without being read, so the cost is what changed,
 * not the size of the machine. Lists at most `limit` changes; counts all.
 */
export async function diffPoints(files: PointFiles, older: string | null, newer: string, limit = 500) {
  const counts = { added: 0, modified: 0, deleted: 0 };
  const changes: PointChange[] = [];
  const note = (c: PointChange) => {
    counts[c.change]++;
    if (changes.length < limit) changes.push(c);
  };
  const everything = async (tree: string, parent: string, change: "added" | "deleted") => {
    for (const n of (await files.tree(tree)).nodes) {
      const path = parent ? `${parent}/${n.name}` : n.name;
      if (n.type === "dir" && n.subtree) await everything(n.subtree, path, change);
      else note({ path, change, type: n.type, size: n.size });
    }
  };
  const walk = async (a: string | null, b: string, parent: string): Promise<void> => {
    if (a === b) return;
    const before = new Map(a ? (await files.tree(a)).nodes.map((n) => [n.name, n]) : []);
    for (const n of (await files.tree(b)).nodes) {
      const path = parent ? `${parent}/${n.name}` : n.name;
      const old = before.get(n.name);
      before.delete(n.name);
      if (n.type === "dir" && n.subtree) {
        if (old?.type === "dir" && old.subtree) await walk(old.subtree, n.subtree, path);
        else {
          if (old) note({ path, change: "deleted", type: old.type, size: old.size });
          await everything(n.subtree, path, "added");
        }
        continue;
      }
      if (!old) note({ path, change: "added", type: n.type, size: n.size });
      else if (old.type === "dir" && old.subtree) {
        await everything(old.subtree, path, "deleted");
        note({ path, change: "added", type: n.type, size: n.size });
      } else if (contentKey(old) !== contentKey(n) || old.mode !== n.mode) note({ path, change: "modified", type: n.type, size: n.size });
    }
    for (const [name, old] of before) {
      const path = parent ? `${parent}/${name}` : name;
      if (old.type === "dir" && old.subtree) await everything(old.subtree, path, "deleted");
      else note({ path, change: "deleted", type: old.type, size: old.size });
    }
  };
  await walk(older, newer, "");
  return { ...counts, changes, truncated: counts.added + counts.modified + counts.deleted > changes.length };
}

/** The point of the same machine just before this one (null for the first). */
export async function previousPointRoot(db: DbOrTx, scope: TenantScope, point: { machineId: string; time: Date }): Promise<string | null> {
  const rp = schema.recoveryPoints;
  const [prev] = await db
    .select({ manifest: rp.manifest })
    .from(rp)
    .where(and(scopeTo(rp, scope), eq(rp.machineId, point.machineId), lt(rp.time, point.time)))
    .orderBy(desc(rp.time))
    .limit(1);
  const root = (prev?.manifest as { rootTree?: unknown } | undefined)?.rootTree;
  return typeof root === "string" ? root : null;
}
