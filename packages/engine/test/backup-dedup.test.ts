import { describe, expect, it } from "vitest";
import { link, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { restore } from "../src/restore/restore";
import type { TreeNode } from "../src/tree";
import { memRepo, tempDir, textBytes } from "./helpers";

async function fileNode(repo: Awaited<ReturnType<typeof memRepo>>["repo"], root: string, path: string): Promise<TreeNode> {
  let tree = await repo.loadTree(root);
  const parts = path.split("/").filter(Boolean);
  for (const [i, p] of parts.entries()) {
    const n = tree.nodes.find((x) => x.name === p);
    if (!n) throw new Error(`no ${p} in ${path}`);
    if (i === parts.length - 1) return n;
    tree = await repo.loadTree(n.subtree!);
  }
  throw new Error("empty path");
}

describe("backup: work skipped for content already seen in the run", () => {
  for (const workers of [1, 0]) {
    it(`hard links are read once and every name gets the same chunks (workers: ${workers})`, async () => {
      const src = await tempDir();
      const out = await tempDir();
      try {
        const body = textBytes(300_000, 7);
        await mkdir(join(src.dir, "a"));
        await mkdir(join(src.dir, "b"));
        await writeFile(join(src.dir, "a/lib.so"), body);
        await link(join(src.dir, "a/lib.so"), join(src.dir, "a/lib2.so"));
        await link(join(src.dir, "a/lib.so"), join(src.dir, "b/lib3.so"));
        await writeFile(join(src.dir, "b/other"), "other");
        const { repo } = await memRepo();
        const r = await backup(repo, { paths: [src.dir], workers });
        expect(r.snapshot.errors).toEqual([]);
        expect(r.snapshot.stats.files).toBe(4);
        expect(r.snapshot.stats.bytes).toBe(3 * body.length + 5);
        // One name was read; the two others took its chunk list.
        expect(r.snapshot.stats.readBytes).toBe(body.length + 5);
        const names = ["a/lib.so", "a/lib2.so", "b/lib3.so"];
        const nodes = await Promise.all(names.map((n) => fileNode(repo, r.snapshot.tree, `${src.dir}/${n}`)));
        expect(nodes[0]!.content!.length).toBeGreaterThan(1);
        for (const n of nodes) {
          expect(n.content).toEqual(nodes[0]!.content);
          expect(n.size).toBe(body.length);
        }
        const res = await restore(repo, { id: r.id, snapshot: r.snapshot }, { target: out.dir });
        expect(res.failures).toEqual([]);
        for (const n of names) expect((await readFile(join(out.dir, src.dir, n))).equals(body)).toBe(true);
      } finally {
        await src.cleanup();
        await out.cleanup();
      }
    });
  }
});
