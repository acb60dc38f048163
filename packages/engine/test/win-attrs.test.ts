import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { listTree } from "../src/ls";
import { restore } from "../src/restore/restore";
import { diffTrees } from "../src/diff";
import {
  defaultAttributeApplier,
  FILE_ATTRIBUTE,
  parseAttributeFailures,
  windowsAttributeApplier,
  windowsAttributeInvocations,
  type AttributeApplier,
  type Invocation,
} from "../src/win-attrs";
import { memRepo, tempDir } from "./helpers";

describe("Windows attributes: backup", () => {
  it("are recorded when a reader is plugged, absent otherwise (Linux)", async () => {
    const src = await tempDir();
    try {
      await mkdir(join(src.dir, "sub"));
      await writeFile(join(src.dir, "sub/hidden.txt"), "h");
      await writeFile(join(src.dir, "plain.txt"), "p");
      const { repo } = await memRepo();
      const plain = await backup(repo, { paths: [src.dir], host: "h" });
      const withAttrs = await backup(repo, {
        paths: [src.dir],
        host: "h",
        attributes: (p, st) => (p.endsWith("hidden.txt") ? FILE_ATTRIBUTE.HIDDEN | FILE_ATTRIBUTE.ARCHIVE : st.isDirectory() ? FILE_ATTRIBUTE.DIRECTORY : p.endsWith("plain.txt") ? undefined : 0),
      });
      const attrs = async (tree: string) => {
        const out: Record<string, number | undefined> = {};
        for await (const e of listTree(repo, tree, src.dir)) out[e.path.slice(src.dir.length)] = e.node.attrs;
        return out;
      };
      expect(await attrs(plain.snapshot.tree)).toEqual({ "/plain.txt": undefined, "/sub": undefined, "/sub/hidden.txt": undefined });
      expect(await attrs(withAttrs.snapshot.tree)).toEqual({ "/plain.txt": undefined, "/sub": 0x10, "/sub/hidden.txt": 0x22 });
      // An attribute change alone is a metadata change in diff.
      const diff = await diffTrees(repo, plain.snapshot.tree, withAttrs.snapshot.tree);
      expect(diff.filter((e) => e.path.startsWith(src.dir)).map((e) => `${e.change} ${e.path.slice(src.dir.length)}`)).toEqual(["U /", "U /sub/", "U /sub/hidden.txt"]);
      // A failing reader costs the attribute, not the file.
      const failing = await backup(repo, { paths: [src.dir], host: "h", attributes: () => { throw new Error("boom"); } });
      expect(failing.snapshot.errors).toEqual([]);
      expect(failing.snapshot.stats.files).toBe(2);
    } finally {
      await src.cleanup();
    }
  });
});

describe("Windows attributes: restore applier (commands only: no Windows here)", () => {
  it("batches SetAttributes calls into PowerShell scripts on stdin, quoting paths and masking unsettable bits", () => {
    const entries: Array<{ path: string; attrs: number }> = Array.from({ length: 450 }, (_, i) => ({ path: `C:\\r\\f${i}`, attrs: FILE_ATTRIBUTE.READONLY }));
    entries[1] = { path: "C:\\r\\it's here", attrs: FILE_ATTRIBUTE.HIDDEN | FILE_ATTRIBUTE.DIRECTORY };
    entries[2] = { path: "C:\\r\\none", attrs: FILE_ATTRIBUTE.DIRECTORY };
    const inv = windowsAttributeInvocations(entries);
    expect(inv).toHaveLength(3);
    expect(inv[0]!.command).toBe("powershell.exe");
    expect(inv[0]!.args).toEqual(["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", "-"]);
    const lines = inv[0]!.stdin.split("\r\n");
    expect(lines[0]).toBe("$ErrorActionPreference = 'Stop'");
    expect(lines[1]).toBe("try { [System.IO.File]::SetAttributes('C:\\r\\f0', [System.IO.FileAttributes]1) } catch { [Console]::Out.WriteLine(\"FAIL`t0`t\" + $_.Exception.Message) }");
    expect(lines[2]).toContain("SetAttributes('C:\\r\\it''s here', [System.IO.FileAttributes]2)");
    expect(lines[3]).toContain("SetAttributes('C:\\r\\none', [System.IO.FileAttributes]128)");
    expect(inv[2]!.stdin.split("\r\n").filter((l) => l.startsWith("try")).length).toBe(50);
    // Paths never reach a command line.
    expect(inv.every((i) => i.args.every((a) => !a.includes("C:\\")))).toBe(true);
  });

  it("maps failures back to paths; a batch whose process fails reports every entry", async () => {
    const entries = [
      { path: "C:\\a", attrs: 1 },
      { path: "C:\\b", attrs: 2 },
    ];
    expect(parseAttributeFailures(entries, "FAIL\t1\tAccess is denied.\r\nnoise\r\nFAIL\t9\tout of range\r\n")).toEqual([{ path: "C:\\b", error: "attributes not set: Access is denied." }]);

    const seen: Invocation[] = [];
    const ok = windowsAttributeApplier(async (inv) => {
      seen.push(inv);
      return { stdout: "FAIL\t0\tThe file is in use.\r\n", code: 0 };
    });
    expect(await ok.apply(entries)).toEqual([{ path: "C:\\a", error: "attributes not set: The file is in use." }]);
    expect(seen).toHaveLength(1);

    const died = windowsAttributeApplier(async () => ({ stdout: "", code: 1 }));
    expect((await died.apply(entries)).map((f) => f.path)).toEqual(["C:\\a", "C:\\b"]);
    const missing = windowsAttributeApplier(async () => {
      throw new Error("spawn powershell.exe ENOENT");
    });
    expect(await missing.apply(entries)).toEqual([
      { path: "C:\\a", error: "attributes not set: spawn powershell.exe ENOENT" },
      { path: "C:\\b", error: "attributes not set: spawn powershell.exe ENOENT" },
    ]);
    expect(await ok.apply([])).toEqual([]);
  });

  it("only win32 gets a default applier", () => {
    expect(defaultAttributeApplier("linux")).toBeUndefined();
    expect(defaultAttributeApplier("win32")).toBeDefined();
  });
});

describe("Windows attributes: restore", () => {
  it("hands restored files and directories with attrs to the applier after content and times, and lists its failures", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      await mkdir(join(src.dir, "sub"));
      await writeFile(join(src.dir, "sub/ro.txt"), "read only");
      await writeFile(join(src.dir, "sub/hidden.txt"), "h");
      await writeFile(join(src.dir, "plain.txt"), "p");
      const { repo } = await memRepo();
      const point = await backup(repo, {
        paths: [src.dir],
        host: "h",
        attributes: (p, st) =>
          p.endsWith("ro.txt") ? FILE_ATTRIBUTE.READONLY : p.endsWith("hidden.txt") ? FILE_ATTRIBUTE.HIDDEN : st.isDirectory() && p.endsWith("sub") ? FILE_ATTRIBUTE.DIRECTORY : undefined,
      });
      const calls: Array<Array<{ path: string; attrs: number; content?: string }>> = [];
      const applier: AttributeApplier = {
        async apply(entries) {
          // Content is in place when attributes are set (a read-only bit must come last).
          calls.push(entries.map((e) => ({ ...e, ...(e.path.endsWith(".txt") ? { content: readFileSync(e.path, "utf8") } : {}) })));
          return entries.filter((e) => e.path.endsWith("hidden.txt")).map((e) => ({ path: e.path, error: "access denied" }));
        },
      };
      const target = join(out.dir, "r");
      const res = await restore(repo, point, { target, path: src.dir, attributes: applier });
      const base = src.dir.split("/").pop()!;
      expect(calls).toHaveLength(1);
      expect(calls[0]!.map((e) => [e.path.slice(target.length), e.attrs, e.content]).sort()).toEqual(
        [
          [`/${base}/sub`, 0x10, undefined],
          [`/${base}/sub/hidden.txt`, 0x2, "h"],
          [`/${base}/sub/ro.txt`, 0x1, "read only"],
        ].sort(),
      );
      expect(res.files).toBe(3);
      expect(res.failures).toEqual([{ path: `${base}/sub/hidden.txt`, error: "attributes not set: access denied" }]);

      // An applier that throws costs the attributes, not the restore.
      const broken: AttributeApplier = { apply: async () => { throw new Error("powershell missing"); } };
      const res2 = await restore(repo, point, { target: join(out.dir, "r2"), path: src.dir, attributes: broken });
      expect(res2.files).toBe(3);
      expect(res2.failures.map((f) => f.path).sort()).toEqual([`${base}/sub`, `${base}/sub/hidden.txt`, `${base}/sub/ro.txt`]);
      expect(res2.failures[0]!.error).toBe("attributes not set: powershell missing");

      // The default applies nothing off win32; null disables it anywhere.
      const res3 = await restore(repo, point, { target: join(out.dir, "r3"), path: src.dir });
      expect(res3.failures).toEqual([]);
      const res4 = await restore(repo, point, { target: join(out.dir, "r4"), path: src.dir, attributes: null });
      expect(res4.failures).toEqual([]);
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });
});
