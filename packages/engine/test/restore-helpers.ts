import type { MemoryBlobStore } from "@tidemark/storage";
import { packKeyName } from "../src/pack/format";
import type { Repository } from "../src/repository";
import type { Tree } from "../src/tree";

/** The listing at an absolute path inside a point ("/tmp/x" → tree of x). */
export async function treeAt(repo: Repository, rootTree: string, path: string): Promise<Tree> {
  let t = await repo.loadTree(rootTree);
  for (const part of path.split("/").filter(Boolean)) t = await repo.loadTree(t.nodes.find((n) => n.name === part)!.subtree!);
  return t;
}

/** Flips one bit inside a stored blob (inside its sealed bytes, so GCM fails); returns its pack. */
export async function damageBlob(store: MemoryBlobStore, repo: Repository, id: string, at = 3): Promise<string> {
  const e = repo.index.lookup(id)!;
  const key = packKeyName(e.pack);
  const bytes = Buffer.from(await store.get(key));
  bytes[e.offset + at]! ^= 0x01;
  await store.put(key, bytes);
  return e.pack;
}
