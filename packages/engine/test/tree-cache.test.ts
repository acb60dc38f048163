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
});
