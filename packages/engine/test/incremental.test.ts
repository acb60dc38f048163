import { describe, expect, it, vi } from "vitest";
import { mkdir, rm, writeFile, appendFile } from "node:fs/promises";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { RepositoryError } from "../src/errors";
import type { Repository } from "../src/repository";
import { memRepo, tempDir, textBytes } from "./helpers";
import { makeCorpus } from "./fs-helpers";

async function corpus(d: string) {
  await makeCorpus(d);
  for (const sub of ["proj/a/b/c", "proj/a/x", "proj/d", "other/deep/er"]) await mkdir(join(d, sub), { recursive: true });
  await writeFile(join(d, "proj/a/b/c/f1"), textBytes(20_000, 5));
  await writeFile(join(d, "proj/a/x/f2"), "f2");
  await writeFile(join(d, "proj/d/gone"), "soon deleted");
  await writeFile(join(d, "proj/d/stays"), "stays");
  await writeFile(join(d, "other/deep/er/f3"), textBytes(10_000, 6));
}

/**
 * The source's own node (metadata + subtree id). Root trees are not compared:
 * the directories above a temp dir (/tmp) change while other tests run.
 */
async function sourceNode(repo: Repository, rootTree: string, path: string) {
  let t = await repo.loadTree(rootTree);
  const parts = path.split("/").filter(Boolean);
  for (const part of parts.slice(0, -1)) t = await repo.loadTree(t.nodes.find((n) => n.name === part)!.subtree!);
  return t.nodes.find((n) => n.name === parts.at(-1))!;
}

/** A fresh corpus and repository per test, removed afterwards. */
async function onCorpus(fn: (dir: string, repo: Repository) => Promise<void>) {
  const src = await tempDir();
  try {
    await corpus(src.dir);
    await fn(src.dir, (await memRepo()).repo);
  } finally {
    await src.cleanup();
  }
}

const sumOf = (s: { files: number; dirs: number; bytes: number }) => ({ files: s.files, dirs: s.dirs, bytes: s.bytes });

describe("incremental walk (changedPaths)", () => {
  it("with a complete change set, produces the same tree and stats as a full walk", async () => {
    await onCorpus(async (d, repo) => {
      const p1 = await backup(repo, { paths: [d], host: "h" });

      await appendFile(join(d, "proj/a/b/c/f1"), "more");
      await writeFile(join(d, "proj/a/x/new"), "new file");
      await rm(join(d, "proj/d/gone"));
      await mkdir(join(d, "proj/e/new"), { recursive: true });
      await writeFile(join(d, "proj/e/new/g"), "in a new directory");
      const changed = [join(d, "proj/a/b/c/f1"), join(d, "proj/a/x/new"), join(d, "proj/d/gone"), join(d, "proj/e")];

      const inc = await backup(repo, { paths: [d], host: "h", parent: p1.id, changedPaths: changed });
      const full = await backup(repo, { paths: [d], host: "h", parent: p1.id });
      expect(await sourceNode(repo, inc.snapshot.tree, d)).toEqual(await sourceNode(repo, full.snapshot.tree, d));
      expect((await sourceNode(repo, inc.snapshot.tree, d)).subtree).not.toBe((await sourceNode(repo, p1.snapshot.tree, d)).subtree);
      expect(sumOf(inc.snapshot.stats)).toEqual(sumOf(full.snapshot.stats));
      expect(inc.snapshot.stats.readBytes).toBe(20_004 + "new file".length + "in a new directory".length);

      // Nothing changed: the incremental point equals the previous one without walking.
      const same = await backup(repo, { paths: [d], host: "h", parent: inc.id, changedPaths: [] });
      expect(await sourceNode(repo, same.snapshot.tree, d)).toEqual(await sourceNode(repo, inc.snapshot.tree, d));
      expect(sumOf(same.snapshot.stats)).toEqual(sumOf(full.snapshot.stats));
    });
  });

  it("renames (both names listed) and a file replaced by a directory match a full walk", async () => {
    await onCorpus(async (d, repo) => {
      const p1 = await backup(repo, { paths: [d], host: "h" });
      const { rename } = await import("node:fs/promises");
      await rename(join(d, "proj/a/b"), join(d, "proj/a/renamed"));
      await rm(join(d, "proj/d/stays"));
      await mkdir(join(d, "proj/d/stays"));
      await writeFile(join(d, "proj/d/stays/inner"), "inner");
      const changed = [join(d, "proj/a/b"), join(d, "proj/a/renamed"), join(d, "proj/d/stays")];
      const inc = await backup(repo, { paths: [d], host: "h", parent: p1.id, changedPaths: changed });
      const full = await backup(repo, { paths: [d], host: "h", parent: p1.id });
      expect(await sourceNode(repo, inc.snapshot.tree, d)).toEqual(await sourceNode(repo, full.snapshot.tree, d));
      expect(sumOf(inc.snapshot.stats)).toEqual(sumOf(full.snapshot.stats));
      // A renamed directory has no counterpart in the parent: its files are read again (and dedup
      // keeps them from being stored again), exactly as in a full walk.
      expect(inc.snapshot.stats.readBytes).toBe(20_000 + "inner".length);
      expect(full.snapshot.stats.readBytes).toBe(inc.snapshot.stats.readBytes);
    });
  });

  it("does not walk untouched subtrees (an unreported change stays unseen until a rescan)", async () => {
    await onCorpus(async (d, repo) => {
      const p1 = await backup(repo, { paths: [d], host: "h" });
      await writeFile(join(d, "other/deep/er/f3"), "silently changed");
      await writeFile(join(d, "proj/a/x/f2"), "reported");
      const inc = await backup(repo, { paths: [d], host: "h", parent: p1.id, changedPaths: [join(d, "proj/a/x/f2")] });
      expect(inc.snapshot.stats.readBytes).toBe("reported".length);
      const rescan = await backup(repo, { paths: [d], host: "h", parent: inc.id });
      expect(rescan.snapshot.stats.readBytes).toBe("silently changed".length);
      expect((await sourceNode(repo, rescan.snapshot.tree, d)).subtree).not.toBe((await sourceNode(repo, inc.snapshot.tree, d)).subtree);
    });
  });

  it("retries what the parent point could not read, as if it had changed", async () => {
    await onCorpus(async (d, repo) => {
      const p1 = await backup(repo, { paths: [d], host: "h" });
      // A parent that failed on f3 (and holds an old point's odd error path, which is ignored).
      const failed = await repo.saveSnapshot({ ...p1.snapshot, errors: [{ path: join(d, "other/deep/er/f3"), error: "EACCES" }, { path: "not/absolute", error: "EIO" }] });
      await writeFile(join(d, "other/deep/er/f3"), "now readable");
      const inc = await backup(repo, { paths: [d], host: "h", parent: failed, changedPaths: [] });
      expect(inc.snapshot.stats.readBytes).toBe("now readable".length);
      const control = await backup(repo, { paths: [d], host: "h", parent: p1.id, changedPaths: [] });
      expect(control.snapshot.stats.readBytes).toBe(0);
    });
  });

  it("walks in full without a parent, or when the parent used other excludes; a changed source is walked in full", async () => {
    await onCorpus(async (d, repo) => {
      const none = await backup(repo, { paths: [d], host: "h", parent: "none", changedPaths: [] });
      expect(none.snapshot.stats.files).toBe(11);
      const ex = await backup(repo, { paths: [d], host: "h", parent: none.id, changedPaths: [], excludes: ["proj"] });
      expect(ex.snapshot.stats.files).toBe(7);
      await writeFile(join(d, "other/deep/er/f3"), "changed");
      const whole = await backup(repo, { paths: [d], host: "h", parent: ex.id, changedPaths: [d], excludes: ["proj"] });
      expect(whole.snapshot.stats.readBytes).toBe("changed".length);
      await expect(backup(repo, { paths: [d], host: "h", parent: whole.id, changedPaths: ["relative/path"] })).rejects.toBeInstanceOf(RepositoryError);
    });
  });

  it("Windows-recorded sources match changed paths case-insensitively", async () => {
    await onCorpus(async (d, repo) => {
      const sources = [{ read: join(d, "proj"), record: "C:\\Proj" }];
      const p1 = await backup(repo, { sources, host: "w" });
      await writeFile(join(d, "proj/a/x/f2"), "changed!");
      const inc = await backup(repo, { sources, host: "w", parent: p1.id, changedPaths: ["c:\\PROJ\\A\\x\\F2"] });
      expect(inc.snapshot.stats.readBytes).toBe("changed!".length);
      const full = await backup(repo, { sources, host: "w", parent: p1.id });
      // Recorded under C:\ (its metadata is the test dir's, which nothing else touches): the roots compare.
      expect(inc.snapshot.tree).toBe(full.snapshot.tree);
    });
  });
});

describe("reuse after a prune", () => {
  it("checks reused subtrees for condemned chunks once, and again when another pack is condemned", async () => {
    await onCorpus(async (d, repo) => {
      const p1 = await backup(repo, { paths: [d], host: "h" });
      repo.condemned.add("ff".repeat(32)); // some unrelated pack in trash/
      const loads = vi.spyOn(repo, "loadTree");
      const inc1 = await backup(repo, { paths: [d], host: "h", parent: p1.id, changedPaths: [] });
      const first = loads.mock.calls.length;
      loads.mockClear();
      const inc2 = await backup(repo, { paths: [d], host: "h", parent: inc1.id, changedPaths: [] });
      expect(loads.mock.calls.length).toBeLessThan(first);
      expect(inc2.snapshot.stats.readBytes).toBe(0);

      // Condemn the pack holding f3's first chunk: f3 (and whatever shares that pack) is read again.
      const t = await sourceNode(repo, p1.snapshot.tree, join(d, "other/deep/er/f3"));
      repo.condemned.add(repo.index.lookup(t.content![0]!)!.pack);
      loads.mockClear();
      const inc3 = await backup(repo, { paths: [d], host: "h", parent: inc2.id, changedPaths: [] });
      expect(loads.mock.calls.length).toBeGreaterThan(0);
      expect(inc3.snapshot.stats.readBytes).toBeGreaterThanOrEqual(10_000);
      loads.mockRestore();
    });
  });
});

describe("rereadChunks (self-heal)", () => {
  it("re-reads a file naming a listed chunk and stores the chunk again, also inside a reused subtree", async () => {
    await onCorpus(async (d, repo) => {
      const p1 = await backup(repo, { paths: [d], host: "h" });
      let t = await repo.loadTree(p1.snapshot.tree);
      for (const part of join(d, "other/deep/er").split("/").filter(Boolean)) t = await repo.loadTree(t.nodes.find((n) => n.name === part)!.subtree!);
      const ids = t.nodes.find((n) => n.name === "f3")!.content!;
      const packBefore = repo.index.lookup(ids[0]!)!.pack;

      const control = await backup(repo, { paths: [d], host: "h", parent: p1.id, changedPaths: [] });
      expect(control.snapshot.stats.readBytes).toBe(0);

      const healed = await backup(repo, { paths: [d], host: "h", parent: p1.id, changedPaths: [], rereadChunks: new Set([ids[0]!]) });
      expect(healed.snapshot.stats.readBytes).toBe(10_000);
      expect(healed.snapshot.stats.newChunks).toBeGreaterThanOrEqual(1);
      expect(repo.index.lookup(ids[0]!)!.pack).not.toBe(packBefore);
      expect(await sourceNode(repo, healed.snapshot.tree, d)).toEqual(await sourceNode(repo, p1.snapshot.tree, d));
    });
  });
});
