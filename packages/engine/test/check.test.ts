import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import { backup } from "../src/backup/backup";
import { check } from "../src/check";
import { restore } from "../src/restore/restore";
import { packKeyName } from "../src/pack/format";
import { Repository } from "../src/repository";
import { rebuildIndex } from "../src/index/rebuild";
import { PASSWORD, memRepo, tempDir, textBytes } from "./helpers";
import { makeCorpus } from "./fs-helpers";

async function fileChunk(repo: Repository, tree: string, path: string): Promise<string> {
  let t = await repo.loadTree(tree);
  const parts = path.split("/").filter(Boolean);
  for (const part of parts.slice(0, -1)) t = await repo.loadTree(t.nodes.find((n) => n.name === part)!.subtree!);
  return t.nodes.find((n) => n.name === parts.at(-1))!.content![0]!;
}

async function setup() {
  const src = await tempDir();
  await makeCorpus(src.dir);
  const { store, repo } = await memRepo();
  const one = await backup(repo, { paths: [src.dir] });
  await writeFile(join(src.dir, "later.txt"), textBytes(5000, 9));
  const two = await backup(repo, { paths: [src.dir] });
  return { src, store, repo, one, two };
}

describe("check", () => {
  it("is clean on a healthy repository, with and without reading data", async () => {
    const { src, repo } = await setup();
    try {
      const r = await check(repo, { readData: true });
      expect(r.errors).toEqual([]);
      expect(r.ok).toBe(true);
      expect(r.snapshots).toBe(2);
      expect(r.packsRead).toBe(r.packs);
      expect(r.trees).toBeGreaterThan(5);
      expect((await check(repo, { readData: true, subsetPercent: 0 })).packsRead).toBe(0);
    } finally {
      await src.cleanup();
    }
  });

  it("a flipped bit: read-data names the pack, the chunk, the file and every point affected", async () => {
    const { src, store, repo, one, two } = await setup();
    const out = await tempDir();
    try {
      const chunk = await fileChunk(repo, one.snapshot.tree, `${src.dir}/docs/deep/deeper/small`);
      const e = repo.index.lookup(chunk)!;
      const bytes = Buffer.from(await store.get(packKeyName(e.pack)));
      bytes[e.offset + 1]! ^= 0x80;
      await store.put(packKeyName(e.pack), bytes);

      expect((await check(repo)).ok).toBe(true); // structure alone cannot see a flipped bit
      const r = await check(repo, { readData: true });
      expect(r.ok).toBe(false);
      expect(r.damagedPacks).toEqual([{ pack: e.pack, reason: expect.stringMatching(/does not hash/) }]);
      expect(r.damagedChunks).toEqual([{ chunk, pack: e.pack, reason: expect.stringMatching(/failed authentication/) }]);
      const file = `${src.dir}/docs/deep/deeper/small`;
      expect(r.affected.map((a) => [a.snapshot, a.paths]).sort()).toEqual(
        [
          [one.id, [file]],
          [two.id, [file]],
        ].sort(),
      );
      // Unaffected files still restore.
      const res = await restore(repo, { id: two.id, snapshot: two.snapshot }, { target: out.dir });
      expect(res.failures.map((f) => f.path)).toEqual([file.slice(1)]);
      expect(res.files).toBe(6);
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });

  it("a truncated or missing pack is found by the structure check and blamed on its files", async () => {
    const { src, store, repo, two } = await setup();
    try {
      const chunk = await fileChunk(repo, two.snapshot.tree, `${src.dir}/later.txt`);
      const e = repo.index.lookup(chunk)!;
      const bytes = await store.get(packKeyName(e.pack));
      await store.put(packKeyName(e.pack), bytes.subarray(0, bytes.length - 100));
      const r = await check(repo);
      expect(r.damagedPacks).toEqual([{ pack: e.pack, reason: expect.stringMatching(/truncated/) }]);
      expect(r.damagedChunks.map((c) => c.chunk)).toContain(chunk);
      expect(r.affected.find((a) => a.snapshot === two.id)!.paths).toContain(`${src.dir}/later.txt`);

      await store.delete(packKeyName(e.pack));
      const r2 = await check(repo, { readData: true });
      expect(r2.damagedPacks).toEqual([{ pack: e.pack, reason: "missing from storage" }]);
      expect(r2.ok).toBe(false);
    } finally {
      await src.cleanup();
    }
  });

  it("a damaged tree makes its directory unreadable in the report", async () => {
    const { src, store, repo, one } = await setup();
    try {
      // Find the tree of docs/deep and damage it.
      let t = await repo.loadTree(one.snapshot.tree);
      for (const part of `${src.dir}/docs`.split("/").filter(Boolean)) t = await repo.loadTree(t.nodes.find((n) => n.name === part)!.subtree!);
      const deep = t.nodes.find((n) => n.name === "deep")!.subtree!;
      const e = repo.index.lookup(deep)!;
      const bytes = Buffer.from(await store.get(packKeyName(e.pack)));
      bytes[e.offset + e.length - 1]! ^= 1;
      await store.put(packKeyName(e.pack), bytes);
      const r = await check(repo, { readData: true });
      expect(r.damagedChunks.map((c) => c.chunk)).toContain(deep);
      expect(r.affected.find((a) => a.snapshot === one.id)!.paths).toContain(`${src.dir}/docs/deep/`);
    } finally {
      await src.cleanup();
    }
  });
});

describe("rebuild-index", () => {
  it("rebuilds the whole index from pack trailers alone after every index object is lost", async () => {
    const { src, store, two } = await setup();
    const out = await tempDir();
    try {
      const names: string[] = [];
      for await (const m of store.list("index/")) names.push(m.key);
      expect(names.length).toBeGreaterThan(0);
      for (const n of names) await store.delete(n);

      let repo = await Repository.open(store, PASSWORD);
      const broken = await check(repo);
      expect(broken.ok).toBe(false);
      expect(broken.unindexedPacks.length).toBeGreaterThan(0);

      const r = await rebuildIndex(repo);
      expect(r.unreadable).toEqual([]);
      expect(r.indexed).toBe(broken.unindexedPacks.length);

      repo = await Repository.open(store, PASSWORD);
      expect((await check(repo, { readData: true })).errors).toEqual([]);
      const res = await restore(repo, await repo.resolveSnapshot(two.id), { target: out.dir });
      expect(res.failures).toEqual([]);
      expect(res.files).toBe(7);

      // --all replaces every index object by one covering all packs.
      const all = await rebuildIndex(await Repository.open(store, PASSWORD), { all: true });
      expect(all.indexObjectsRemoved).toBe(1);
      let count = 0;
      for await (const _ of store.list("index/")) count++;
      expect(count).toBe(1);
      expect((await check(await Repository.open(store, PASSWORD))).ok).toBe(true);
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });
});
