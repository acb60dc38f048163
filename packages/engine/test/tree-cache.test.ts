import { describe, expect, it, vi } from "vitest";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { memRepo, tempDir } from "./helpers";

describe("tree cache", () => {
  it("is bounded by estimated bytes, evicts least recently used first, and reloads what it dropped", async () => {
    const src = await tempDir();
    try {
      for (let d = 0; d < 30; d++) {
        await mkdir(join(src.dir, `d${d}`));
        for (let f = 0; f < 20; f++) await writeFile(join(src.dir, `d${d}`, `file-${f}`), `${d}/${f}`);
      }
      const { store, repo } = await memRepo();
      const p = await backup(repo, { paths: [src.dir], host: "h" });
      let t = await repo.loadTree(p.snapshot.tree);
      for (const part of src.dir.split("/").filter(Boolean)) t = await repo.loadTree(t.nodes.find((n) => n.name === part)!.subtree!);
      const ids = t.nodes.map((n) => n.subtree!);
      expect(ids).toHaveLength(30);

      for (const id of ids) await repo.loadTree(id);
      const all = repo.treeCacheUsage();
      expect(all.bytes).toBeGreaterThan(0);

      // A budget of about five directory trees.
      const perTree = Math.ceil(all.bytes / all.entries);
      repo.treeCacheLimit = perTree * 5;
      await repo.loadTree(ids[0]!); // most recently used: survives the eviction below
      await repo.loadTree(ids[29]!);
      await repo.loadTree(ids[28]!); // … and so does this, loaded after
      const bounded = repo.treeCacheUsage();
      expect(bounded.bytes).toBeLessThanOrEqual(repo.treeCacheLimit);
      expect(bounded.entries).toBeLessThanOrEqual(6);

      const gets = vi.spyOn(store, "get");
      await repo.loadTree(ids[0]!);
      await repo.loadTree(ids[28]!);
      expect(gets).not.toHaveBeenCalled();
      const reloaded = await repo.loadTree(ids[5]!); // evicted: read again, still correct
      expect(gets).toHaveBeenCalledTimes(1);
      expect(gets.mock.calls[0]![0]).toMatch(/^data\//);
      expect(reloaded.nodes).toHaveLength(20);
      expect(repo.treeCacheUsage().bytes).toBeLessThanOrEqual(repo.treeCacheLimit);
      gets.mockRestore();

      // A failed load is not cached and costs nothing.
      const before = repo.treeCacheUsage();
      const bad = "ab".repeat(32);
      await expect(repo.loadTree(bad)).rejects.toThrow(/not in the index/);
      expect(repo.treeCacheUsage()).toEqual(before);
      expect(() => (repo.treeCacheLimit = -1)).toThrow(/byte count/);
      repo.treeCacheLimit = 0;
      expect(repo.treeCacheUsage()).toEqual({ entries: 0, bytes: 0 });
    } finally {
      await src.cleanup();
    }
  });

  it("loadTrees reads many listings with few ranged GETs, caches them, and maps a bad id to its error", async () => {
    const src = await tempDir();
    try {
      for (let d = 0; d < 30; d++) {
        await mkdir(join(src.dir, `d${d}`));
        await writeFile(join(src.dir, `d${d}`, "f"), `${d}`);
      }
      const { store, repo } = await memRepo();
      const p = await backup(repo, { paths: [src.dir], host: "h" });
      let t = await repo.loadTree(p.snapshot.tree);
      for (const part of src.dir.split("/").filter(Boolean)) t = await repo.loadTree(t.nodes.find((n) => n.name === part)!.subtree!);
      const ids = t.nodes.map((n) => n.subtree!);
      const oneByOne = new Map<string, string[]>();
      repo.treeCacheLimit = 0;
      for (const id of ids) oneByOne.set(id, (await repo.loadTree(id)).nodes.map((n) => n.name));
      repo.treeCacheLimit = 1 << 24;

      const gets = vi.spyOn(store, "get");
      const bad = "cd".repeat(32);
      const got = await repo.loadTrees([...ids, bad, ids[0]!]);
      // All 30 listings were written into one pack next to each other: one ranged read.
      expect(gets).toHaveBeenCalledTimes(1);
      expect(got.size).toBe(31);
      for (const id of ids) expect((got.get(id) as { nodes: { name: string }[] }).nodes.map((n) => n.name)).toEqual(oneByOne.get(id));
      expect(got.get(bad)).toBeInstanceOf(Error);
      expect((got.get(bad) as Error).message).toMatch(/not in the index/);
      gets.mockClear();
      for (const id of ids) await repo.loadTree(id);
      expect(gets).not.toHaveBeenCalled();
      gets.mockRestore();
      await expect(repo.loadTree(bad)).rejects.toThrow(/not in the index/);
    } finally {
      await src.cleanup();
    }
  });

  it("a second full backup reads the parent's listings grouped by pack, with the same tree id", async () => {
    const src = await tempDir();
    try {
      for (let d = 0; d < 40; d++) {
        await mkdir(join(src.dir, `d${d}`, "sub"), { recursive: true });
        await writeFile(join(src.dir, `d${d}`, "sub", "f"), `${d}`);
      }
      const { store, repo } = await memRepo();
      const first = await backup(repo, { paths: [src.dir], host: "h" });
      repo.treeCacheLimit = 0;
      repo.treeCacheLimit = 1 << 24;
      const gets = vi.spyOn(store, "get");
      const second = await backup(repo, { paths: [src.dir], host: "h", parent: first.id });
      const dataGets = gets.mock.calls.filter((c) => String(c[0]).startsWith("data/")).length;
      gets.mockRestore();
      // The source's subtree, not the root: /tmp above it changes while other tests run.
      const sourceTree = async (root: string) => {
        let id = root;
        for (const part of src.dir.split("/").filter(Boolean)) id = (await repo.loadTree(id)).nodes.find((n) => n.name === part)!.subtree!;
        return id;
      };
      expect(await sourceTree(second.snapshot.tree)).toBe(await sourceTree(first.snapshot.tree));
      // 80+ listings; one GET each before.
      expect(dataGets).toBeLessThan(20);
    } finally {
      await src.cleanup();
    }
  });
});
