/** Listing a point (or a path inside it), recursively. */
import { EngineError } from "./errors";
import type { Repository } from "./repository";
import { isWindowsPath, treePathParts, type TreeNode } from "./tree";

export interface ListedNode {
  path: string;
  node: TreeNode;
}

/** Splits "POINT[:path]". */
export function splitPointRef(ref: string): { point: string; path?: string } {
  const i = ref.indexOf(":");
  if (i < 0) return { point: ref };
  const path = ref.slice(i + 1);
  return path ? { point: ref.slice(0, i), path } : { point: ref.slice(0, i) };
}

/**
 * Finds a child by name. Windows lookups ("C:\Users\a") fall back to a
 * case-insensitive match when exactly one entry matches, as Windows itself would.
 */
export function findChild(nodes: readonly TreeNode[], name: string, ignoreCase: boolean): TreeNode | undefined {
  const exact = nodes.find((x) => x.name === name);
  if (exact || !ignoreCase) return exact;
  const lower = name.toLowerCase();
  const matches = nodes.filter((x) => x.name.toLowerCase() === lower);
  return matches.length === 1 ? matches[0] : undefined;
}

/** `path`: "/home/a", or a recorded Windows path ("C:\Users\a") or its tree form ("/C/Users/a"). */
export async function* listTree(repo: Repository, rootTree: string, path = "/"): AsyncGenerator<ListedNode> {
  const parts = treePathParts(path);
  const ignoreCase = isWindowsPath(path);
  let tree = rootTree;
  let prefix = "";
  for (let i = 0; i < parts.length; i++) {
    const n = findChild((await repo.loadTree(tree)).nodes, parts[i]!, ignoreCase);
    if (!n) throw new EngineError(`path not found in recovery point: /${parts.slice(0, i + 1).join("/")}`);
    prefix += `/${n.name}`;
    if (n.type !== "dir" || !n.subtree) {
      if (i === parts.length - 1) {
        yield { path: prefix, node: n };
        return;
      }
      throw new EngineError(`not a directory in recovery point: ${prefix}`);
    }
    tree = n.subtree;
  }
  yield* walk(repo, tree, prefix);
}

async function* walk(repo: Repository, tree: string, prefix: string): AsyncGenerator<ListedNode> {
  for (const n of (await repo.loadTree(tree)).nodes) {
    const p = `${prefix}/${n.name}`;
    yield { path: p, node: n };
    if (n.type === "dir" && n.subtree) yield* walk(repo, n.subtree, p);
  }
}
