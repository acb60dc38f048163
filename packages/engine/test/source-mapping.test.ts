import { describe, expect, it } from "vitest";
import { lstat, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { restore } from "../src/restore/restore";
import { listTree } from "../src/ls";
import { RepositoryError } from "../src/errors";
import { formatRecordPath, recordPathParts, treePathParts } from "../src/tree";
import { memRepo, tempDir, textBytes } from "./helpers";

async function shadowCorpus(root: string) {
  await mkdir(join(root, "Users/alice/Documents/Reports"), { recursive: true });
  await writeFile(join(root, "Users/alice/Documents/Reports/q1.docx"), textBytes(40_000, 3));
  await writeFile(join(root, "Users/alice/notes.txt"), "remember the milk");
}

describe("recorded paths", () => {
  it("parse POSIX, drive and UNC forms and refuse relative or '..'", () => {
    expect(recordPathParts("C:\\Users\\alice\\")).toEqual(["C", "Users", "alice"]);
    expect(recordPathParts("c:/Users/alice")).toEqual(["C", "Users", "alice"]);
    expect(recordPathParts("\\\\?\\D:\\data")).toEqual(["D", "data"]);
    expect(recordPathParts("\\\\fs01\\share\\x")).toEqual(["UNC", "fs01", "share", "x"]);
    expect(recordPathParts("\\\\?\\UNC\\fs01\\share")).toEqual(["UNC", "fs01", "share"]);
    expect(recordPathParts("/home/a//b/")).toEqual(["home", "a", "b"]);
    expect(formatRecordPath(["C", "Users"], true)).toBe("C:\\Users");
    expect(formatRecordPath(["UNC", "fs01", "share"], true)).toBe("\\\\fs01\\share");
    expect(formatRecordPath(["home", "a"], false)).toBe("/home/a");
    expect(() => recordPathParts("Users\\alice")).toThrow(/absolute/);
    expect(() => recordPathParts("C:\\Users\\..\\Windows")).toThrow(/\.\./);
    expect(treePathParts("C:\\Users\\a")).toEqual(["C", "Users", "a"]);
    expect(treePathParts("/C/Users/a")).toEqual(["C", "Users", "a"]);
  });
});

describe("backup sources with path mapping (VSS: read the shadow, record the live path)", () => {
  it("records C:\\… paths, finds them with ls in either form, restores them, and reuses the parent across shadows", async () => {
    const tmp = await tempDir();
    const out = await tempDir();
    try {
      const shadow1 = join(tmp.dir, "shadow1");
      await shadowCorpus(shadow1);
      const other = join(tmp.dir, "plain");
      await mkdir(other);
      await writeFile(join(other, "x"), "plain source");
      const { repo } = await memRepo();
      const first = await backup(repo, { host: "win1", sources: [{ read: join(shadow1, "Users/alice"), record: "C:\\Users\\alice\\" }, other] });
      expect(first.snapshot.paths).toEqual([other, "C:\\Users\\alice"].sort());
      expect(first.snapshot.errors).toEqual([]);
      expect(first.snapshot.stats.files).toBe(3);

      const root = await repo.loadTree(first.snapshot.tree);
      const c = root.nodes.find((n) => n.name === "C")!;
      expect(c.type).toBe("dir");
      // The drive's metadata is the shadow root's: it stands for C:\.
      expect(c.mtimeNs).toBe((await lstat(shadow1, { bigint: true })).mtimeNs.toString());

      const listed = [];
      for await (const e of listTree(repo, first.snapshot.tree, "C:\\Users\\alice")) listed.push(e.path);
      expect(listed).toEqual([
        "/C/Users/alice/Documents",
        "/C/Users/alice/Documents/Reports",
        "/C/Users/alice/Documents/Reports/q1.docx",
        "/C/Users/alice/notes.txt",
      ]);
      // Windows lookups are case-insensitive; the tree form works too.
      const one = [];
      for await (const e of listTree(repo, first.snapshot.tree, "c:\\users\\ALICE\\notes.TXT")) one.push(e);
      expect(one.map((e) => e.path)).toEqual(["/C/Users/alice/notes.txt"]);
      for await (const e of listTree(repo, first.snapshot.tree, "/C/Users/alice/notes.txt")) expect(e.node.size).toBe(17);
      await expect(async () => {
        for await (const _ of listTree(repo, first.snapshot.tree, "C:\\Users\\bob")) void _;
      }).rejects.toThrow(/not found/);

      const res = await restore(repo, first, { target: out.dir, path: "/C/Users/alice" });
      expect(res.failures).toEqual([]);
      expect((await readFile(join(out.dir, "alice/Documents/Reports/q1.docx"))).equals(textBytes(40_000, 3))).toBe(true);
      expect(await readFile(join(out.dir, "alice/notes.txt"), "utf8")).toBe("remember the milk");

      // Next point: a new shadow of the same volume (same files) recorded at the same live path.
      const shadow2 = join(tmp.dir, "shadow2");
      await symlink(shadow1, shadow2);
      const second = await backup(repo, { host: "win1", sources: [other, { read: join(shadow2, "Users", "alice"), record: "C:\\Users\\alice" }] });
      expect(second.snapshot.parent).toBe(first.id);
      expect(second.snapshot.stats.readBytes).toBe(0);
      // The drive's subtree is identical (the root differs: the temp dir above `plain` gained an entry).
      const cOf = async (tree: string) => (await repo.loadTree(tree)).nodes.find((n) => n.name === "C")!;
      expect(await cOf(second.snapshot.tree)).toEqual(await cOf(first.snapshot.tree));
    } finally {
      await tmp.cleanup();
      await out.cleanup();
    }
  });

  it("reports errors under the recorded path, and refuses bad mappings before reading anything", async () => {
    const tmp = await tempDir();
    try {
      const { repo } = await memRepo();
      const r = await backup(repo, { host: "w", sources: [{ read: join(tmp.dir, "missing"), record: "D:\\Data" }] });
      expect(r.snapshot.errors).toEqual([{ path: "D:\\Data", error: "ENOENT" }]);
      await expect(backup(repo, { sources: [{ read: tmp.dir, record: "Data" }] })).rejects.toBeInstanceOf(RepositoryError);
      await expect(backup(repo, { sources: [{ read: tmp.dir, record: "/" }] })).rejects.toThrow(/root/);
      await expect(
        backup(repo, { sources: [{ read: tmp.dir, record: "C:\\A" }, { read: join(tmp.dir, "other"), record: "c:/A" }] }),
      ).rejects.toThrow(/two sources are recorded as C:\\A/);
    } finally {
      await tmp.cleanup();
    }
  });

  it("restore finds a recorded Windows path like ls does: C:\\ form, case-insensitively; a missing one is a clear error", async () => {
    const tmp = await tempDir();
    const out = await tempDir();
    try {
      const shadow = join(tmp.dir, "shadow");
      await shadowCorpus(shadow);
      const { repo } = await memRepo();
      const point = await backup(repo, { host: "win1", sources: [{ read: join(shadow, "Users/alice"), record: "C:\\Users\\alice" }] });

      const dir = await restore(repo, point, { target: join(out.dir, "a"), path: "c:\\users\\ALICE\\Documents" });
      expect(dir.failures).toEqual([]);
      // The restored entry keeps its recorded name, not the spelling asked for.
      expect((await readFile(join(out.dir, "a/Documents/Reports/q1.docx"))).equals(textBytes(40_000, 3))).toBe(true);
      const file = await restore(repo, point, { target: join(out.dir, "b"), path: "C:\\Users\\alice\\NOTES.txt" });
      expect(file.files).toBe(1);
      expect(await readFile(join(out.dir, "b/notes.txt"), "utf8")).toBe("remember the milk");

      await expect(restore(repo, point, { target: join(out.dir, "c"), path: "C:\\Users\\bob" })).rejects.toThrow(/path not found in recovery point: \/C\/Users\/bob/);
      // POSIX paths stay exact: only Windows lookups fold case.
      await expect(restore(repo, point, { target: join(out.dir, "d"), path: "/c/users/alice" })).rejects.toThrow(/not found/);
    } finally {
      await tmp.cleanup();
      await out.cleanup();
    }
  });
});
