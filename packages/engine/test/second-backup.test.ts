import { describe, expect, it } from "vitest";
import { chmod, mkdir, symlink, unlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { encodeTree, type TreeNode } from "../src/tree";
import { BLOB_TREE } from "../src/pack/format";
import { CorruptionError } from "../src/errors";
import { parseIndexObject } from "../src/index/repo-index";
import { Prescan } from "../src/backup/prescan";
import { lstatMeta, lstatMetaFast, metaNode } from "../src/backup/lstat-meta";
import { lstatSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { memRepo, tempDir } from "./helpers";
import { rm } from "node:fs/promises";
import { packKeyName } from "../src/pack/format";
import { Repository } from "../src/repository";
import { PASSWORD } from "./helpers";

async function dirNode(repo: Awaited<ReturnType<typeof memRepo>>["repo"], root: string, path: string): Promise<TreeNode> {
  let tree = await repo.loadTree(root);
  let node: TreeNode | undefined;
  for (const p of path.split("/").filter(Boolean)) {
    node = tree.nodes.find((x) => x.name === p);
    if (!node) throw new Error(`no ${p} in ${path}`);
    if (node.subtree) tree = await repo.loadTree(node.subtree);
  }
  return node!;
}

describe("second backup: unchanged directories take the parent's tree id", () => {
  it("reuses ids of unchanged directories, and any changed field (mode, symlink target, content) gives the canonical new tree", async () => {
    const src = await tempDir();
    try {
      for (const d of ["a", "b", "c"]) {
        await mkdir(join(src.dir, d));
        await writeFile(join(src.dir, d, "f"), `file in ${d}`);
      }
      await symlink("f", join(src.dir, "c/link"));
      const { repo } = await memRepo();
      const first = await backup(repo, { paths: [src.dir], workers: 0 });
      const before = { a: await dirNode(repo, first.snapshot.tree, `${src.dir}/a`), b: await dirNode(repo, first.snapshot.tree, `${src.dir}/b`), c: await dirNode(repo, first.snapshot.tree, `${src.dir}/c`) };

      const same = await backup(repo, { paths: [src.dir], workers: 0 });
      // The source's tree, not the root's: /tmp above it changes whenever other tests make temp dirs.
      expect((await dirNode(repo, same.snapshot.tree, src.dir)).subtree).toBe((await dirNode(repo, first.snapshot.tree, src.dir)).subtree);
      expect(same.snapshot.stats.readBytes).toBe(0);
      expect(same.snapshot.stats.files).toBe(first.snapshot.stats.files);

      // Only metadata changes: mode of a/f (mtime untouched), the target of c/link (its mtime set back).
      await chmod(join(src.dir, "a/f"), 0o600);
      await unlink(join(src.dir, "c/link"));
      await symlink("g", join(src.dir, "c/link"));
      const stamp = new Date(Date.now() - 3_600_000);
      await utimes(join(src.dir, "c"), stamp, stamp);
      const changed = await backup(repo, { paths: [src.dir], workers: 0 });
      const after = { a: await dirNode(repo, changed.snapshot.tree, `${src.dir}/a`), b: await dirNode(repo, changed.snapshot.tree, `${src.dir}/b`), c: await dirNode(repo, changed.snapshot.tree, `${src.dir}/c`) };
      expect(after.b.subtree).toBe(before.b.subtree);
      expect(after.a.subtree).not.toBe(before.a.subtree);
      expect(after.c.subtree).not.toBe(before.c.subtree);
      for (const d of [after.a, after.c]) {
        // The id is the one a fresh encoding of its listing gives (nothing carried over from the parent).
        const t = await repo.loadTree(d.subtree!);
        expect(repo.id(encodeTree(t.nodes))).toBe(d.subtree);
        expect(repo.index.lookup(d.subtree!)?.type).toBe(BLOB_TREE);
      }
      expect((await repo.loadTree(after.a.subtree!)).nodes.find((n) => n.name === "f")!.mode & 0o777).toBe(0o600);
      expect((await repo.loadTree(after.c.subtree!)).nodes.find((n) => n.name === "link")!.target).toBe("g");
      expect(changed.snapshot.tree).not.toBe(first.snapshot.tree);
      expect(changed.snapshot.stats.files).toBe(first.snapshot.stats.files);
    } finally {
      await src.cleanup();
    }
  });

  it("a prefetch window far smaller than the parent still walks every directory with its parent's listing", async () => {
    const src = await tempDir();
    try {
      for (let i = 0; i < 40; i++) {
        await mkdir(join(src.dir, `d${i}`, "x", "y"), { recursive: true });
        await writeFile(join(src.dir, `d${i}`, "x", "y", "f"), `content ${i}`);
      }
      const { repo } = await memRepo();
      const first = await backup(repo, { paths: [src.dir], workers: 0 });
      await writeFile(join(src.dir, "d7/x/y/f"), "changed!!");
      repo.treeCacheLimit = 2_000;
      const second = await backup(repo, { paths: [src.dir], workers: 0 });
      // Only the changed file was read: every other file matched its parent entry.
      expect(second.snapshot.stats.readBytes).toBe("changed!!".length);
      expect(second.snapshot.stats.files).toBe(first.snapshot.stats.files);
      const d8 = await dirNode(repo, second.snapshot.tree, `${src.dir}/d8`);
      expect(d8.subtree).toBe((await dirNode(repo, first.snapshot.tree, `${src.dir}/d8`)).subtree);
    } finally {
      await src.cleanup();
    }
  });
});

describe("index objects are checked before use", () => {
  const good = { v: 1, packs: [{ id: "a".repeat(64), salt: "c2FsdA==", size: 100, blobs: [[0, "b".repeat(64), 40, 30, 20]] }] };
  it("accepts a well-formed object and ignores unknown keys", () => {
    expect(parseIndexObject({ ...good, extra: true }, "index/x")).toEqual(good);
  });
  const cases: Array<[string, unknown, RegExp]> = [
    ["not an object", [1], /\(root\)/],
    ["wrong version", { ...good, v: 2 }, /v: unsupported version 2/],
    ["pack id in capitals", { v: 1, packs: [{ ...good.packs[0], id: "A".repeat(64) }] }, /packs\[0\]\.id/],
    ["negative size", { v: 1, packs: [{ ...good.packs[0], size: -1 }] }, /packs\[0\]\.size/],
    ["blob type 2", { v: 1, packs: [{ ...good.packs[0], blobs: [[2, "b".repeat(64), 1, 2, 3]] }] }, /packs\[0\]\.blobs\[0\]/],
    ["short blob row", { v: 1, packs: [{ ...good.packs[0], blobs: [[0, "b".repeat(64), 1, 2]] }] }, /packs\[0\]\.blobs\[0\]/],
    ["offset as text", { v: 1, packs: [{ ...good.packs[0], blobs: [[0, "b".repeat(64), "1", 2, 3]] }] }, /packs\[0\]\.blobs\[0\]/],
    ["missing blobs", { v: 1, packs: [{ id: "a".repeat(64), salt: "", size: 1 }] }, /packs\[0\]\.blobs/],
  ];
  for (const [what, value, where] of cases) {
    it(`refuses ${what} with an error naming the object and the place`, () => {
      expect(() => parseIndexObject(value, "index/abc")).toThrow(CorruptionError);
      expect(() => parseIndexObject(value, "index/abc")).toThrow(/index object index\/abc is malformed/);
      expect(() => parseIndexObject(value, "index/abc")).toThrow(where);
    });
  }
});

describe("prescan: listings taken while the repository opens", () => {
  it("a backup that takes a finished scan records exactly what its own walk records, and takes every scanned directory", async () => {
    const src = await tempDir();
    try {
      for (let i = 0; i < 30; i++) {
        await mkdir(join(src.dir, `d${i}`, "sub"), { recursive: true });
        await writeFile(join(src.dir, `d${i}`, "sub", "f"), `content ${i}`);
        await writeFile(join(src.dir, `d${i}`, "g"), `other ${i}`);
      }
      await symlink("d0", join(src.dir, "link"));
      const { repo } = await memRepo();
      const plain = await backup(repo, { paths: [src.dir], workers: 0, parent: "none" });
      const scan = new Prescan([src.dir, join(src.dir, "d3/g")]);
      // Let it finish: 61 directories.
      for (let i = 0; i < 200 && scan.pending < 61; i++) await new Promise((r) => setImmediate(r));
      expect(scan.pending).toBe(61);
      const scanned = await backup(repo, { paths: [src.dir], workers: 0, parent: "none", prescan: scan });
      expect((await dirNode(repo, scanned.snapshot.tree, src.dir)).subtree).toBe((await dirNode(repo, plain.snapshot.tree, src.dir)).subtree);
      expect(scanned.snapshot.stats.files).toBe(60);
      expect(scan.pending).toBe(0);
    } finally {
      await src.cleanup();
    }
  });

  it("a scan stopped after its first slice (or of a missing path) leaves the rest to the walk, and errors are the walk's", async () => {
    const src = await tempDir();
    try {
      for (let i = 0; i < 20; i++) {
        await mkdir(join(src.dir, `d${i}`));
        await writeFile(join(src.dir, `d${i}`, "f"), `content ${i}`);
      }
      const { repo } = await memRepo();
      const plain = await backup(repo, { paths: [src.dir], workers: 0, parent: "none" });
      const scan = new Prescan([src.dir, join(src.dir, "missing")]);
      await new Promise((r) => setImmediate(r));
      scan.stop();
      const partial = scan.pending;
      expect(partial).toBeGreaterThan(0);
      const scanned = await backup(repo, { paths: [src.dir], workers: 0, parent: "none", prescan: scan });
      expect((await dirNode(repo, scanned.snapshot.tree, src.dir)).subtree).toBe((await dirNode(repo, plain.snapshot.tree, src.dir)).subtree);
      // A source that is a link to a directory is not listed through the link.
      await symlink(join(src.dir, "d1"), join(src.dir, "via-link"));
      const linkScan = new Prescan([join(src.dir, "via-link")]);
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      expect(linkScan.pending).toBe(0);
      const missing = await backup(repo, { paths: [join(src.dir, "missing")], workers: 0, parent: "none", prescan: new Prescan([join(src.dir, "missing")]) });
      expect(missing.snapshot.errors).toEqual([{ path: join(src.dir, "missing"), error: "ENOENT" }]);
    } finally {
      await src.cleanup();
    }
  });
});

describe("encoder workers start with the first file to read", () => {
  it("a backup with every file unchanged starts none; a changed file starts them and is read by them", async () => {
    const src = await tempDir();
    try {
      for (let i = 0; i < 5; i++) await writeFile(join(src.dir, `f${i}`), `file ${i}`);
      const { repo } = await memRepo();
      try {
        await backup(repo, { paths: [src.dir], workers: 0 });
        const pool = repo.encoderPool(1);
        const same = await backup(repo, { paths: [src.dir], workers: 1 });
        expect(same.snapshot.stats.readBytes).toBe(0);
        expect(pool.running).toBe(0);
        await writeFile(join(src.dir, "f3"), "changed content");
        const changed = await backup(repo, { paths: [src.dir], workers: 1 });
        expect(changed.snapshot.stats.readBytes).toBe("changed content".length);
        expect(pool.running).toBe(1);
      } finally {
        await repo.close();
      }
    } finally {
      await src.cleanup();
    }
  });
});

describe("lstatMeta: tree-node metadata without a BigIntStats", () => {
  it("gives exactly what metaNode(lstatSync(bigint)) gives for files, directories, symlinks, fifos and odd mtimes; errors are lstat's", async () => {
    const src = await tempDir();
    try {
      const p = (n: string) => join(src.dir, n);
      await writeFile(p("file"), "x".repeat(1234));
      await mkdir(p("dir"));
      await symlink("file", p("link"));
      execFileSync("mkfifo", [p("fifo")]);
      await writeFile(p("old"), "before 1970");
      await utimes(p("old"), -86_400.5, -86_400.5);
      await writeFile(p("epoch"), "");
      await utimes(p("epoch"), 0, 0);
      await writeFile(p("ns"), "nanoseconds");
      // Sub-microsecond mtime through touch (utimes takes doubles).
      execFileSync("touch", ["-m", "-d", "2024-02-29 12:34:56.000000007", p("ns")]);
      for (const n of ["file", "dir", "link", "fifo", "old", "epoch", "ns"]) {
        const st = lstatSync(p(n), { bigint: true });
        expect(lstatMeta(n, p(n))).toEqual({ node: metaNode(n, st), nlink: Number(st.nlink) });
      }
      expect(lstatMeta("ns", p("ns")).node.mtimeNs).toBe(lstatSync(p("ns"), { bigint: true }).mtimeNs.toString());
      expect(lstatMeta("ns", p("ns")).node.mtimeNs.endsWith("000000007")).toBe(true);
      expect(() => lstatMeta("missing", p("missing"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
      if (process.platform === "linux") expect(lstatMetaFast()).toBe(true);
    } finally {
      await src.cleanup();
    }
  });
});

describe("a parent listing that cannot be read is never reused", () => {
  it("a directory emptied since the parent, whose parent listing is damaged, gets the empty tree, not the damaged id", async () => {
    const src = await tempDir();
    try {
      await mkdir(join(src.dir, "d"));
      for (let i = 0; i < 3; i++) await writeFile(join(src.dir, "d", `f${i}`), `file ${i}`);
      const { repo, store } = await memRepo();
      const first = await backup(repo, { paths: [src.dir], workers: 0 });
      const damaged = (await dirNode(repo, first.snapshot.tree, `${src.dir}/d`)).subtree!;
      const e = repo.index.lookup(damaged)!;
      const bytes = Buffer.from(await store.get(packKeyName(e.pack)));
      bytes[e.offset + e.length - 1]! ^= 1;
      await store.put(packKeyName(e.pack), bytes);
      for (let i = 0; i < 3; i++) await rm(join(src.dir, "d", `f${i}`));
      // A fresh process: nothing cached, the damaged listing must be read (and fails).
      const again = await Repository.open(store, PASSWORD);
      const second = await backup(again, { paths: [src.dir], workers: 0 });
      const d = await dirNode(again, second.snapshot.tree, `${src.dir}/d`);
      expect(d.subtree).not.toBe(damaged);
      expect(d.subtree).toBe(again.id(encodeTree([])));
      expect((await again.loadTree(d.subtree!)).nodes).toEqual([]);
    } finally {
      await src.cleanup();
    }
  });
});
