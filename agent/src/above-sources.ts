/**
 * A full walk records the directories above the include paths too (their
 * mode, owner, times): the engine needs them to place the sources in the
 * tree. They are not protected data, and some change all the time (/tmp's
 * mtime on a busy box, a home folder's atime-driven ctime): a root tree that
 * differs only there must not become a recovery point of its own. The new
 * metadata rides along with the next point that has a real change.
 */
import { recordPathParts, type BackupSource, type Repository } from "./engine";

interface Level {
  children: Map<string, Level>;
  /** The tree node at this path is a source: compared in full. */
  source: boolean;
}

function levels(sources: readonly BackupSource[]): Level {
  const root: Level = { children: new Map(), source: false };
  for (const s of sources) {
    let at = root;
    for (const part of recordPathParts(typeof s === "string" ? s : s.record)) {
      let next = at.children.get(part);
      if (!next) at.children.set(part, (next = { children: new Map(), source: false }));
      at = next;
    }
    at.source = true;
  }
  return root;
}

/**
 * True when root trees `a` and `b` hold the same sources, byte for byte, and
 * differ at most in the metadata of directories above them. Loads only the
 * trees above the sources (a handful).
 */
export async function differsOnlyAboveSources(repo: Repository, a: string, b: string, sources: readonly BackupSource[]): Promise<boolean> {
  return same(repo, a, b, levels(sources));
}

async function same(repo: Repository, a: string, b: string, level: Level): Promise<boolean> {
  if (a === b) return true;
  const [ta, tb] = await Promise.all([repo.loadTree(a), repo.loadTree(b)]);
  if (ta.nodes.length !== tb.nodes.length) return false;
  const right = new Map(tb.nodes.map((n) => [n.name, n]));
  for (const l of ta.nodes) {
    const r = right.get(l.name);
    if (!r) return false;
    const below = level.children.get(l.name);
    // A source (or anything the plan does not name) is compared whole: content, metadata, subtree id.
    if (!below || below.source) {
      if (JSON.stringify(l) !== JSON.stringify(r)) return false;
      continue;
    }
    if (l.type !== "dir" || r.type !== "dir" || !l.subtree || !r.subtree) return false;
    if (!(await same(repo, l.subtree, r.subtree, below))) return false;
  }
  return true;
}
