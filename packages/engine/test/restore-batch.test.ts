import { describe, expect, it } from "vitest";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { MemoryBlobStore } from "@tidemark/storage";
import { backup } from "../src/backup/backup";
import { restore } from "../src/restore/restore";
import { check } from "../src/check";
import { coalesce } from "../src/restore/blob-batch";
import { Repository } from "../src/repository";
import { memRepo, PASSWORD, tempDir } from "./helpers";
import { describeTree, makeCorpus } from "./fs-helpers";
import { damageBlob, treeAt } from "./restore-helpers";

/** Counts GETs of pack objects from now on. */
function countGets(store: MemoryBlobStore): { gets: number } {
  const c = { gets: 0 };
  const get = store.get.bind(store);
  store.get = (key, opts) => {
    if (key.startsWith("data/")) c.gets++;
    return get(key, opts);
  };
  return c;
}

async function manyDirs(root: string, n: number) {
  for (let i = 0; i < n; i++) {
    await mkdir(join(root, `d${i}`, "sub"), { recursive: true });
    await writeFile(join(root, `d${i}`, "sub", "f.txt"), `file ${i}\n`);
  }
}

describe("restore reads directory listings coalesced by pack", () => {
  it("a tree of 120 directories costs a few ranged GETs, not one per directory", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      await manyDirs(src.dir, 60);
      const { store, repo } = await memRepo();
      const r = await backup(repo, { paths: [src.dir] });
      const counter = countGets(store);
      const res = await restore(repo, r, { target: out.dir });
      expect(res.failures).toEqual([]);
      expect(await describeTree(join(out.dir, src.dir))).toEqual(await describeTree(src.dir));
      // 120+ directories and 60 files: one ranged GET per tree level (/, tmp, tm-engine-…, d*, sub) and per data run.
      const depth = src.dir.split("/").filter(Boolean).length + 3;
      const dataPacks = new Set([...repo.index.entries()].filter(([, e]) => e.type === 0).map(([, e]) => e.pack)).size;
      expect(counter.gets).toBeLessThanOrEqual(depth + dataPacks);
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });

  it("check reads listings coalesced by pack too", async () => {
    const src = await tempDir();
    try {
      await manyDirs(src.dir, 60);
      const { store, repo } = await memRepo();
      await backup(repo, { paths: [src.dir] });
      const fresh = await Repository.open(store, PASSWORD);
      const counter = countGets(store);
      const ok = await check(fresh);
      expect(ok.errors).toEqual([]);
      expect(ok.trees).toBeGreaterThan(120);
      expect(counter.gets).toBeLessThanOrEqual(src.dir.split("/").filter(Boolean).length + 3);
    } finally {
      await src.cleanup();
    }
  });

  it("a damaged listing fails only its directory; the other directories restore", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      await manyDirs(src.dir, 5);
      const { store, repo } = await memRepo();
      const r = await backup(repo, { paths: [src.dir] });
      const victim = (await treeAt(repo, r.snapshot.tree, src.dir)).nodes.find((n) => n.name === "d3")!.subtree!;
      const e = { pack: await damageBlob(store, repo, victim, 2) };
      const fresh = await Repository.open(store, PASSWORD); // no listing cached from the backup
      const res = await restore(fresh, r, { target: out.dir });
      expect(res.failures).toEqual([{ path: `${src.dir.slice(1)}/d3`, error: `directory listing unreadable: pack ${e.pack}: chunk ${victim} failed authentication` }]);
      expect((await readFile(join(out.dir, src.dir, "d4/sub/f.txt"))).toString()).toBe("file 4\n");
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });

  it("restoring again over an earlier restore replaces files and symlinks", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      await makeCorpus(src.dir);
      const { repo } = await memRepo();
      const r = await backup(repo, { paths: [src.dir] });
      expect((await restore(repo, r, { target: out.dir })).failures).toEqual([]);
      expect((await restore(repo, r, { target: out.dir })).failures).toEqual([]);
      expect(await describeTree(join(out.dir, src.dir))).toEqual(await describeTree(src.dir));
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });

  it("coalesce: one run per pack while gaps and sizes allow, split otherwise", () => {
    const e = (pack: string, offset: number, length: number) => ({ pack, type: 0 as const, offset, length, rawLength: length });
    const runs = coalesce(
      [
        { id: "a", e: e("p1", 1000, 100) },
        { id: "b", e: e("p1", 40, 100) },
        { id: "c", e: e("p1", 1_000_000, 100) }, // gap > 256 KiB
        { id: "d", e: e("p2", 40, 100) },
      ],
    );
    expect(runs.map((r) => r.map((x) => x.id))).toEqual([["b", "a"], ["c"], ["d"]]);
    expect(coalesce([{ id: "a", e: e("p", 0, 10) }, { id: "b", e: e("p", 10, 10) }], 0, 15).map((r) => r.length)).toEqual([1, 1]);
  });
});
