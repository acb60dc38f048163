/**
 * The agent's Windows attribute reader. It cannot run here: the PowerShell invocation it builds
 * and the parsing of its output are unit-tested, and capture runs as "win32" with a fake runner
 * that answers the script's Walk lines from this box's files (what PowerShell would list), so
 * the real engine records `attrs` on full and incremental points.
 */
import { lstat, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listTree } from "@tidemark/engine";
import type { Invocation, Runner } from "../src/engine";
import { wmiVss, type Exec } from "../src/vss";
import { attributeKey, attributeListingInvocation, attributeRoots, parseAttributeListing, WindowsAttributeReader } from "../src/win-attrs";
import { removeTmp, tmp as helperTmp, windowsCapture } from "./helpers";

const tmp = () => helperTmp("attrs");
afterAll(removeTmp);

describe("Windows attribute listing: command and parsing", () => {
  it("one PowerShell reading its script from stdin; every root a Walk line with a single-quoted path; no path on the command line", () => {
    const inv = attributeListingInvocation([
      { path: "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy3\\Users\\Ann", recurse: true },
      { path: "C:\\Users\\O'Brien", recurse: false },
    ]);
    expect(inv.command).toBe("powershell.exe");
    expect(inv.args).toEqual(["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", "-"]);
    const lines = inv.stdin.split("\r\n");
    expect(lines.at(-1)).toBe("");
    expect(lines.slice(-3, -1)).toEqual(["Walk '\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy3\\Users\\Ann' $true", "Walk 'C:\\Users\\O''Brien' $false"]);
    // UTF-8 out (names are not ASCII), explicit stack, reparse points not followed, hidden/system entries included.
    expect(inv.stdin).toContain("[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false");
    expect(inv.stdin).toContain("Get-Item -LiteralPath $p -Force");
    expect(inv.stdin).toContain("-not $link");
    expect(inv.stdin).toContain("New-Object System.Collections.Stack");
  });

  it("parses attrs<TAB>FullName lines (CRLF, any case, MISSING/UNREADABLE) and ignores noise", () => {
    const out = parseAttributeListing(
      ["16\tC:\\Users\\Ann", "34\tC:\\Users\\Ann\\Ünïcode naïve.txt", "1\tc:\\users\\ann\\RO.TXT", "MISSING\tC:\\Users\\Gone", "UNREADABLE\tC:\\Users\\Ann\\Locked", "Welcome to PowerShell", "\t", "99999999999\tC:\\x", "12a\tC:\\y", ""].join("\r\n"),
    );
    expect([...out.attrs]).toEqual([
      ["c:\\users\\ann", 16],
      ["c:\\users\\ann\\ünïcode naïve.txt", 34],
      ["c:\\users\\ann\\ro.txt", 1],
    ]);
    expect(out.missing).toEqual(["C:\\Users\\Gone"]);
    expect(out.unreadable).toEqual(["C:\\Users\\Ann\\Locked"]);
  });

  it("keys match whatever separators and case the engine uses", () => {
    expect(attributeKey("C:/Users//Ann/")).toBe("c:\\users\\ann");
    expect(attributeKey("C:\\")).toBe("c:\\");
    expect(attributeKey("\\\\?\\GLOBALROOT\\Device\\X\\a")).toBe("\\\\?\\globalroot\\device\\x\\a");
    expect(attributeKey("\\\\srv\\share\\\\x")).toBe("\\\\srv\\share\\x");
  });

  it("roots: a full walk lists each source deeply; an incremental one the changed paths deeply and the folders on the way shallowly", () => {
    const sources = [
      { read: "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1\\Users\\Ann", record: "C:\\Users\\Ann" },
      { read: "D:\\Finance", record: "D:\\Finance" },
    ];
    expect(attributeRoots(sources, undefined)).toEqual(sources.map((s) => ({ path: s.read, recurse: true })));
    const S = sources[0]!.read;
    expect(attributeRoots(sources, ["c:\\users\\ann\\Docs\\a.txt", "C:\\Users\\Ann\\Docs\\b.txt", "D:\\Finance", "E:\\elsewhere\\x", "C:\\Users\\Annex\\y"])).toEqual([
      { path: S, recurse: false },
      { path: `${S}\\Docs`, recurse: false },
      { path: `${S}\\Docs\\a.txt`, recurse: true },
      { path: `${S}\\Docs\\b.txt`, recurse: true },
      { path: "D:\\Finance", recurse: true },
    ]);
  });

  it("the reader: a runner that throws, a PowerShell that dies, unreadable folders — reported, never thrown; answers only what was listed", async () => {
    const roots = [{ path: "C:\\Data", recurse: true }];
    const failing = new WindowsAttributeReader(async () => {
      throw new Error("spawn powershell.exe ENOENT");
    });
    expect(await failing.prime(roots)).toEqual({ entries: 0, problem: expect.stringMatching(/not read \(spawn powershell.exe ENOENT\)/) });
    expect(failing.read("C:\\Data")).toBeUndefined();
    const died = new WindowsAttributeReader(async () => ({ stdout: "", code: 1 }));
    expect((await died.prime(roots)).problem).toMatch(/powershell exited 1/);
    let seen: Invocation | undefined;
    const partial = new WindowsAttributeReader(async (inv) => {
      seen = inv;
      return { stdout: "16\tC:\\Data\r\n33\tC:\\Data\\a.txt\r\nUNREADABLE\tC:\\Data\\Secret\r\n", code: 0 };
    });
    const r = await partial.prime(roots);
    expect(seen!.stdin).toContain("Walk 'C:\\Data' $true");
    expect(r).toEqual({ entries: 2, problem: expect.stringMatching(/1 folder\(s\) not read, e.g. C:\\Data\\Secret/) });
    expect(partial.read("c:/data/A.TXT")).toBe(33);
    expect(partial.read("C:\\Data\\b.txt")).toBeUndefined();
    partial.clear();
    expect(partial.read("C:\\Data\\a.txt")).toBeUndefined();
    // No roots: nothing runs.
    const never = new WindowsAttributeReader(async () => {
      throw new Error("must not run");
    });
    expect(await never.prime([])).toEqual({ entries: 0 });
  });
});

/** What PowerShell would print for the script's Walk lines, from this box's files (backslashes → "/"). */
function fakePowershellListing(attrsOf: (name: string, dir: boolean) => number) {
  const runs: Array<Array<{ path: string; recurse: boolean }>> = [];
  const run: Runner = async (inv) => {
    const roots = [...inv.stdin.matchAll(/^Walk '((?:[^']|'')*)' \$(true|false)$/gm)].map((m) => ({ path: m[1]!.replace(/''/g, "'"), recurse: m[2] === "true" }));
    runs.push(roots);
    const out: string[] = [];
    const emit = async (p: string) => {
      const st = await lstat(p);
      out.push(`${attrsOf(p.split("/").at(-1)!, st.isDirectory())}\t${p}`);
      return st.isDirectory() && !st.isSymbolicLink();
    };
    for (const r of roots) {
      const p = r.path.replace(/\\/g, "/");
      let isDir: boolean;
      try {
        isDir = await emit(p);
      } catch {
        out.push(`MISSING\t${r.path}`);
        continue;
      }
      const stack = isDir ? [p] : [];
      while (stack.length) {
        const d = stack.pop()!;
        for (const name of await readdir(d)) if ((await emit(`${d}/${name}`)) && r.recurse) stack.push(`${d}/${name}`);
      }
    }
    return { stdout: out.join("\r\n") + "\r\n", code: 0 };
  };
  return { run, runs };
}

describe("capture on Windows records attributes (fake VSS + fake PowerShell listing, real engine)", () => {
  it("full and incremental points carry attrs for every entry; a failed listing costs only the attributes", async () => {
    const shadow = await tmp();
    await mkdir(join(shadow, "Users", "Ann", "Docs"), { recursive: true });
    await writeFile(join(shadow, "Users", "Ann", "Docs", "report.docx"), "r");
    await writeFile(join(shadow, "Users", "Ann", "desktop.ini"), "hidden system file");
    await writeFile(join(shadow, "Users", "Ann", "notes.txt"), "n");
    const HIDDEN_SYSTEM = 0x2 | 0x4 | 0x20;
    const attrsOf = (name: string, dir: boolean) => (dir ? 0x10 : name === "desktop.ini" ? HIDDEN_SYSTEM : name === "report.docx" ? 0x1 | 0x20 : 0x20);
    const ps = fakePowershellListing(attrsOf);
    const vssExec: Exec = async (cmd) =>
      /Create\(/.test(cmd.args.at(-1)!) ? { stdout: "ID={11111111-1111-4111-8111-111111111111}\r\nDEVICE=\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1\r\n" } : { stdout: "DELETED" };
    const vss = wmiVss({ exec: vssExec, mapPath: (_s, volume, live) => join(shadow, ...live.slice(volume.length).split("\\").filter(Boolean)) });
    const reader = new WindowsAttributeReader(ps.run);
    const { repo, events, state, capture } = await windowsCapture(await tmp(), { includePaths: ["C:\\Users\\Ann"] }, { vss, attributes: reader });
    const point = async (dirty?: string) => {
      (capture as unknown as { lastPointAt: number }).lastPointAt = 0;
      if (dirty) capture.markDirty(dirty);
      else capture.markFull();
      capture.tick(0);
      await capture.idle();
      const snap = await repo.loadSnapshot(state.lastSnapshotId!);
      const attrs = new Map<string, number | undefined>();
      for await (const n of listTree(repo, snap.tree)) attrs.set(n.path, n.node.attrs);
      return attrs;
    };

    const full = await point();
    expect(ps.runs).toHaveLength(1);
    expect(ps.runs[0]).toEqual([{ path: join(shadow, "Users", "Ann"), recurse: true }]);
    expect(full.get("/C/Users/Ann/desktop.ini")).toBe(HIDDEN_SYSTEM);
    expect(full.get("/C/Users/Ann/Docs/report.docx")).toBe(0x21);
    expect(full.get("/C/Users/Ann/notes.txt")).toBe(0x20);
    expect(full.get("/C/Users/Ann/Docs")).toBe(0x10);

    // Incremental: a new file in Docs. Listed: the source and Docs shallowly, the new file itself.
    await writeFile(join(shadow, "Users", "Ann", "Docs", "new.txt"), "new");
    const inc = await point("C:\\Users\\Ann\\Docs\\new.txt");
    const S = join(shadow, "Users", "Ann");
    expect(ps.runs[1]).toEqual([
      { path: S, recurse: false },
      { path: `${S}\\Docs`, recurse: false },
      { path: `${S}\\Docs\\new.txt`, recurse: true },
    ]);
    expect(inc.get("/C/Users/Ann/Docs/new.txt")).toBe(0x20);
    // Entries the walk inspected again keep their attributes; the reused subtree's are unchanged.
    expect(inc.get("/C/Users/Ann/Docs/report.docx")).toBe(0x21);
    expect(inc.get("/C/Users/Ann/desktop.ini")).toBe(HIDDEN_SYSTEM);
    expect(events.pending().filter((e) => /attributes/.test(e.message))).toEqual([]);

    // PowerShell unavailable: the point is still taken (content intact), without attrs, and said.
    const broken = new WindowsAttributeReader(async () => {
      throw new Error("spawn powershell.exe ENOENT");
    });
    (capture as unknown as { attributes: WindowsAttributeReader }).attributes = broken;
    await writeFile(join(shadow, "Users", "Ann", "notes.txt"), "changed");
    const none = await point();
    expect(none.has("/C/Users/Ann/notes.txt")).toBe(true);
    expect(none.get("/C/Users/Ann/notes.txt")).toBeUndefined();
    expect(events.pending().find((e) => /Windows attributes not read \(spawn powershell.exe ENOENT\)/.test(e.message))).toBeTruthy();
  });
});
