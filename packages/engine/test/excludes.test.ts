import { describe, expect, it } from "vitest";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { compileExcludes } from "../src/backup/excludes";
import { listTree } from "../src/ls";
import { RepositoryError } from "../src/errors";
import { memRepo, tempDir, textBytes } from "./helpers";

const matches = (patterns: string[], path: string, opts: { ci?: boolean; dir?: boolean } = {}) =>
  compileExcludes(patterns, opts.ci ?? false)!.excluded(path, () => opts.dir ?? false);

describe("exclude patterns", () => {
  it("name patterns match at any depth; '/' patterns anchor; '**' spans directories", () => {
    expect(matches(["*.tmp"], "/home/a/x.tmp")).toBe(true);
    expect(matches(["*.tmp"], "/home/a/x.tmp.keep")).toBe(false);
    expect(matches(["*.tmp"], "/home/a.tmp/inner")).toBe(true);
    expect(matches(["node_modules"], "/src/app/node_modules")).toBe(true);
    expect(matches(["node_modules"], "/src/app/node_modules_old")).toBe(false);
    expect(matches(["**/node_modules"], "/src/app/node_modules")).toBe(true);
    expect(matches(["**/node_modules"], "/node_modules")).toBe(true);
    expect(matches(["/var/cache"], "/var/cache")).toBe(true);
    expect(matches(["/var/cache"], "/var/cache/apt/x")).toBe(true);
    expect(matches(["/var/cache"], "/srv/var/cache")).toBe(false);
    expect(matches(["/var/cache"], "/var/cached")).toBe(false);
    expect(matches(["/home/*/Downloads"], "/home/alice/Downloads")).toBe(true);
    expect(matches(["/home/*/Downloads"], "/home/alice/x/Downloads")).toBe(false);
    expect(matches(["/home/**/Downloads"], "/home/alice/x/Downloads")).toBe(true);
    expect(matches(["log?.txt"], "/l/log1.txt")).toBe(true);
    expect(matches(["log[0-4].txt"], "/l/log5.txt")).toBe(false);
    expect(matches(["log[!0-4].txt"], "/l/log5.txt")).toBe(true);
    expect(matches(["a+b(1).txt"], "/x/a+b(1).txt")).toBe(true);
    expect(matches(["build/"], "/p/build", { dir: false })).toBe(false);
    expect(matches(["build/"], "/p/build", { dir: true })).toBe(true);
  });

  it("Windows patterns: backslashes are separators, drive letters and (optionally) names are case-insensitive", () => {
    expect(matches(["C:\\Users\\*\\AppData\\Local\\Temp"], "C:/Users/alice/AppData/Local/Temp/x")).toBe(true);
    expect(matches(["c:\\Users\\*\\AppData"], "C:/Users/alice/AppData")).toBe(true);
    expect(matches(["*.TMP"], "C:/x/a.tmp")).toBe(false);
    expect(matches(["*.TMP"], "C:/x/a.tmp", { ci: true })).toBe(true);
    expect(matches(["\\pagefile.sys"], "/pagefile.sys")).toBe(true);
  });

  it("bad patterns are refused with the pattern named", () => {
    expect(() => compileExcludes(["!keep.tmp"], false)).toThrow(/negation/);
    expect(() => compileExcludes(["log[0-9"], false)).toThrow(/unclosed/);
    expect(() => compileExcludes(["  "], false)).toThrow(RepositoryError);
    expect(compileExcludes([], false)).toBeUndefined();
  });
});

describe("backup with excludes", () => {
  it("excluded entries are neither read nor recorded; the point lists the patterns", async () => {
    const src = await tempDir();
    try {
      const d = src.dir;
      await mkdir(join(d, "app/node_modules/left-pad"), { recursive: true });
      await mkdir(join(d, "app/src"), { recursive: true });
      await mkdir(join(d, "cache/big"), { recursive: true });
      await writeFile(join(d, "app/node_modules/left-pad/index.js"), textBytes(50_000, 1));
      await writeFile(join(d, "app/src/main.ts"), "main");
      await writeFile(join(d, "app/src/scratch.tmp"), textBytes(20_000, 2));
      await writeFile(join(d, "cache/big/blob"), textBytes(80_000, 3));
      await writeFile(join(d, "keep.txt"), "keep");
      const { repo } = await memRepo();
      const r = await backup(repo, { paths: [d], host: "h", excludes: ["**/node_modules", "*.tmp", `${d}/cache`] });
      expect(r.snapshot.excludes).toEqual(["**/node_modules", "*.tmp", `${d}/cache`]);
      expect(r.snapshot.stats.files).toBe(2);
      expect(r.snapshot.stats.readBytes).toBe("main".length + "keep".length);
      const listed: string[] = [];
      for await (const e of listTree(repo, r.snapshot.tree, d)) listed.push(e.path.slice(d.length));
      expect(listed).toEqual(["/app", "/app/src", "/app/src/main.ts", "/keep.txt"]);
      await expect(backup(repo, { paths: [d], excludes: ["!x"] })).rejects.toThrow(/negation/);
    } finally {
      await src.cleanup();
    }
  });

  it("a Windows-recorded source matches C:\\ patterns case-insensitively by default", async () => {
    const src = await tempDir();
    try {
      await mkdir(join(src.dir, "Users/alice/AppData/Local/Temp"), { recursive: true });
      await writeFile(join(src.dir, "Users/alice/AppData/Local/Temp/x.bin"), textBytes(10_000, 4));
      await writeFile(join(src.dir, "Users/alice/Thumbs.db"), "thumbs");
      await writeFile(join(src.dir, "Users/alice/report.docx"), "report");
      const { repo } = await memRepo();
      const sources = [{ read: join(src.dir, "Users"), record: "C:\\Users" }];
      const r = await backup(repo, { sources, host: "w", excludes: ["c:\\users\\*\\appdata\\local\\temp", "thumbs.DB"] });
      const listed: string[] = [];
      for await (const e of listTree(repo, r.snapshot.tree, "C:\\Users")) listed.push(e.path);
      expect(listed).toEqual(["/C/Users/alice", "/C/Users/alice/AppData", "/C/Users/alice/AppData/Local", "/C/Users/alice/report.docx"]);
      // Case-sensitive when asked.
      const cs = await backup(repo, { sources, host: "w", excludes: ["thumbs.DB"], excludeIgnoreCase: false });
      expect(cs.snapshot.stats.files).toBe(3);
    } finally {
      await src.cleanup();
    }
  });
});
