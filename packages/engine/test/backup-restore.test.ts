import { describe, expect, it } from "vitest";
import { appendFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { restore } from "../src/restore/restore";
import { Repository } from "../src/repository";
import { packKeyName, BLOB_TREE } from "../src/pack/format";
import { encodeTree } from "../src/tree";
import { memRepo, PASSWORD, tempDir } from "./helpers";
import { describeTree, makeCorpus } from "./fs-helpers";

describe("backup and restore", () => {
  it("round-trips content, modes, mtimes and symlinks; dedups; a second point reuses unchanged files", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      await makeCorpus(src.dir);
      const { store, repo } = await memRepo();
      const first = await backup(repo, { paths: [src.dir], host: "h1" });
      const want = await describeTree(src.dir);
      expect(first.snapshot.stats.files).toBe(6);
      expect(first.snapshot.errors).toEqual([]);
      // a.txt and b.txt are identical: stored once.
      expect(first.snapshot.stats.newBytes).toBeLessThan(first.snapshot.stats.readBytes);

      await appendFile(join(src.dir, "docs/deep/deeper/small"), " world");
      const second = await backup(repo, { paths: [src.dir], host: "h1" });
      expect(second.snapshot.parent).toBe(first.id);
      // Only the changed file was read again.
      expect(second.snapshot.stats.readBytes).toBe("hello world".length);

      // A fresh open sees everything (index objects, not memory).
      const reopened = await Repository.open(store, PASSWORD);
      const res = await restore(reopened, await reopened.resolveSnapshot(first.id), { target: out.dir });
      expect(res.failures).toEqual([]);
      const restoredFirst = await describeTree(join(out.dir, src.dir));
      expect(restoredFirst).toEqual(want);
      expect(restoredFirst["docs/a.txt"]!.mtimeMs).toBe(Date.parse("2020-01-02T03:04:05Z"));
      expect(restoredFirst["exec.sh"]!.mode).toBe(0o750);

      const out2 = join(out.dir, "second");
      const res2 = await restore(reopened, await reopened.resolveSnapshot("latest"), { target: out2, path: `${src.dir}/docs/deep` });
      expect(res2.failures).toEqual([]);
      expect((await readFile(join(out2, "deep/deeper/small"))).toString()).toBe("hello world");
      expect((await readFile(join(out2, "deep/big.bin"))).length).toBe(350_000);
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });

  it("records unreadable files without failing the backup", async () => {
    const src = await tempDir();
    try {
      await makeCorpus(src.dir);
      await writeFile(join(src.dir, "secret"), "x", { mode: 0o000 });
      const { repo } = await memRepo();
      const r = await backup(repo, { paths: [src.dir] });
      if (process.getuid?.() === 0) {
        expect(r.snapshot.errors).toEqual([]); // root reads everything
      } else {
        expect(r.snapshot.errors).toEqual([{ path: join(src.dir, "secret"), error: "EACCES" }]);
      }
      await expect(backup(repo, { paths: [join(src.dir, "does-not-exist")] })).resolves.toMatchObject({
        snapshot: { errors: [{ path: join(src.dir, "does-not-exist"), error: "ENOENT" }] },
      });
    } finally {
      await src.cleanup();
    }
  });

  it("a damaged chunk fails only the files that need it; the rest are restored", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      await makeCorpus(src.dir);
      const { store, repo } = await memRepo();
      const { snapshot } = await backup(repo, { paths: [src.dir] });
      // Find the chunk of docs/deep/deeper/small and flip a bit inside it.
      const tree = async (path: string) => {
        let t = await repo.loadTree(snapshot.tree);
        for (const part of path.split("/").filter(Boolean)) t = await repo.loadTree(t.nodes.find((n) => n.name === part)!.subtree!);
        return t;
      };
      const small = (await tree(`${src.dir}/docs/deep/deeper`)).nodes.find((n) => n.name === "small")!;
      const e = repo.index.lookup(small.content![0]!)!;
      const key = packKeyName(e.pack);
      const bytes = Buffer.from(await store.get(key));
      bytes[e.offset + 3]! ^= 0x01;
      await store.put(key, bytes);

      const res = await restore(repo, { id: "x", snapshot }, { target: out.dir });
      expect(res.failures).toHaveLength(1);
      expect(res.failures[0]!.path).toBe(`${src.dir.slice(1)}/docs/deep/deeper/small`);
      expect(res.failures[0]!.error).toMatch(new RegExp(`pack ${e.pack}: chunk ${small.content![0]} failed authentication`));
      expect((await readFile(join(out.dir, src.dir, "docs/a.txt"))).length).toBe(30_000);
      await expect(readFile(join(out.dir, src.dir, "docs/deep/deeper/small"))).rejects.toThrow(/ENOENT/);
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });

  it("refuses path traversal in tree entries", async () => {
    const out = await tempDir();
    try {
      const { repo } = await memRepo();
      const saver = repo.newSaver();
      const data = Buffer.from("pwned");
      const dataId = repo.id(data);
      await saver.save(0, dataId, data);
      const file = (name: string) => ({ name, type: "file" as const, mode: 0o644, uid: 0, gid: 0, mtimeNs: "0", size: 5, content: [dataId] });
      const treeBytes = encodeTree([file(".."), file("../escape"), file("/etc/evil"), file("ok")]);
      const treeId = repo.id(treeBytes);
      await saver.save(BLOB_TREE, treeId, treeBytes);
      await saver.flush();
      const snapshot = { v: 1 as const, time: new Date().toISOString(), host: "h", paths: ["/"], tree: treeId, volumes: [], consistency: "crash" as const, tags: [], errors: [], stats: { files: 0, dirs: 0, bytes: 0, readBytes: 0, newChunks: 0, newBytes: 0, storedBytes: 0, durationMs: 0 } };
      const res = await restore(repo, { id: "evil", snapshot }, { target: join(out.dir, "t") });
      expect(res.failures.map((f) => f.path).sort()).toEqual(["..", "../escape", "/etc/evil"].sort());
      for (const f of res.failures) expect(f.error).toMatch(/refused unsafe entry name/);
      expect((await readFile(join(out.dir, "t/ok"))).toString()).toBe("pwned");
      await expect(readFile(join(out.dir, "escape"))).rejects.toThrow(/ENOENT/);
    } finally {
      await out.cleanup();
    }
  });

  it("refuses a tree naming one entry twice (a symlink out of the target, then a directory through it)", async () => {
    const out = await tempDir();
    const outside = await tempDir();
    try {
      const { repo } = await memRepo();
      const saver = repo.newSaver();
      const data = Buffer.from("pwned");
      const dataId = repo.id(data);
      await saver.save(0, dataId, data);
      const inner = Buffer.from(JSON.stringify({ v: 1, nodes: [{ name: "planted", type: "file", mode: 0o644, uid: 0, gid: 0, mtimeNs: "0", size: 5, content: [dataId] }] }));
      const innerId = repo.id(inner);
      await saver.save(BLOB_TREE, innerId, inner);
      // Hand-written JSON: encodeTree itself refuses a name twice.
      const base = { mode: 0o755, uid: 0, gid: 0, mtimeNs: "0", size: 0 };
      const evil = Buffer.from(JSON.stringify({ v: 1, nodes: [{ name: "x", type: "symlink", ...base, target: outside.dir }, { name: "x", type: "dir", ...base, subtree: innerId }] }));
      const evilId = repo.id(evil);
      await saver.save(BLOB_TREE, evilId, evil);
      await saver.flush();
      const snapshot = { v: 1 as const, time: new Date().toISOString(), host: "h", paths: ["/"], tree: evilId, volumes: [], consistency: "crash" as const, tags: [], errors: [], stats: { files: 0, dirs: 0, bytes: 0, readBytes: 0, newChunks: 0, newBytes: 0, storedBytes: 0, durationMs: 0 } };
      const res = await restore(repo, { id: "evil", snapshot }, { target: join(out.dir, "t") });
      expect(res.failures).toHaveLength(1);
      expect(res.failures[0]!.error).toMatch(/directory listing unreadable: .*nodes\[1\]\.name: "x" appears twice/);
      await expect(readFile(join(outside.dir, "planted"))).rejects.toThrow(/ENOENT/);
    } finally {
      await out.cleanup();
      await outside.cleanup();
    }
  });
});
