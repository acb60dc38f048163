/**
 * What changed between two points. Subtrees with the same id are skipped
 * without being loaded, so the cost is O(what changed).
 */
import type { Repository } from "./repository";
import type { TreeNode } from "./tree";

export interface DiffEntry {
  /** + added, - removed, M content or type changed, U metadata only (mode, owner, mtime, Windows attributes). */
  change: "+" | "-" | "M" | "U";
  path: string;
  type: TreeNode["type"];
}

export async function diffTrees(repo: Repository, a: string | undefined, b: string | undefined, prefix = ""): Promise<DiffEntry[]> {
  if (a === b) return [];
  const out: DiffEntry[] = [];
  const left = new Map((a ? (await repo.loadTree(a)).nodes : []).map((n) => [n.name, n]));
  const right = new Map((b ? (await repo.loadTree(b)).nodes : []).map((n) => [n.name, n]));
  const names = [...new Set([...left.keys(), ...right.keys()])].sort();
  for (const name of names) {
    const l = left.get(name);
    const r = right.get(name);
    const path = `${prefix}/${name}`;
    if (!l || !r) {
      const n = (l ?? r)!;
      out.push({ change: l ? "-" : "+", path: n.type === "dir" ? `${path}/` : path, type: n.type });
      if (n.type === "dir") out.push(...(await diffTrees(repo, l?.subtree, r?.subtree, path)).map((d) => ({ ...d, change: l ? ("-" as const) : ("+" as const) })));
      continue;
    }
    if (l.type !== r.type) {
      out.push({ change: "M", path, type: r.type });
      continue;
    }
    if (l.type === "dir") {
      if (l.mode !== r.mode || l.uid !== r.uid || l.gid !== r.gid || l.attrs !== r.attrs) out.push({ change: "U", path: `${path}/`, type: "dir" });
      out.push(...(await diffTrees(repo, l.subtree, r.subtree, path)));
      continue;
    }
    const sameContent = l.target === r.target && JSON.stringify(l.content ?? []) === JSON.stringify(r.content ?? []);
    if (!sameContent) out.push({ change: "M", path, type: r.type });
    else if (l.mode !== r.mode || l.uid !== r.uid || l.gid !== r.gid || l.mtimeNs !== r.mtimeNs || l.attrs !== r.attrs) out.push({ change: "U", path, type: r.type });
  }
  return out;
}
