/**
 * VSS wiring on a Linux box: capture runs as if on Windows ("win32") with the real WMI
 * adapter driven by a fake PowerShell (canned `ID=`/`DEVICE=` output), and the shadow's
 * device path mapped to a local directory standing in for the snapshot. The engine then
 * really reads the "shadow" and records the live `C:\…` paths.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Policy } from "@tidemark/agent-protocol";
import { listTree } from "@tidemark/engine";
import { wmiVss, type Command, type Exec } from "../src/vss";
import { windowsCapture } from "./helpers";

const dirs: string[] = [];
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), "tm-agent-vss-"));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const ids = ["{11111111-1111-4111-8111-111111111111}", "{22222222-2222-4222-8222-222222222222}"];

/** A PowerShell that "creates" shadows (or refuses one volume) and records every command. */
function fakePowershell(opts: { refuse?: string } = {}) {
  const calls: Array<{ kind: "create" | "delete"; arg: string; at: number }> = [];
  let n = 0;
  const exec: Exec = async (cmd: Command) => {
    const script = cmd.args.at(-1)!;
    const create = /Create\('([A-Z]:\\)'/.exec(script);
    if (create) {
      calls.push({ kind: "create", arg: create[1]!, at: Date.now() });
      if (create[1] === opts.refuse) return { stdout: "ERROR=4\r\n" };
      const i = n++;
      return { stdout: `ID=${ids[i]}\r\nDEVICE=\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy${i + 1}\r\n` };
    }
    const del = /\$_\.ID -eq '(\{[^']+\})'/.exec(script);
    calls.push({ kind: "delete", arg: del![1]!, at: Date.now() });
    return { stdout: "DELETED" };
  };
  return { exec, calls };
}

async function setup(policy: Partial<Policy>, vss: ReturnType<typeof wmiVss>) {
  const { repo, events, state, capture } = await windowsCapture(await tmp(), policy, { alwaysExclude: ["C:\\ProgramData\\Tidemark"], vss });
  const point = async () => {
    capture.tick(0);
    await capture.idle();
    const snap = await repo.loadSnapshot(state.lastSnapshotId!);
    const files: string[] = [];
    for await (const n of listTree(repo, snap.tree)) if (n.node.type === "file") files.push(n.path);
    return { snap, files };
  };
  return { repo, events, point };
}

describe("capture on Windows reads VSS shadows and records live paths (fake PowerShell)", () => {
  it("one shadow per volume, read through the mapping, recorded as C:\\… and D:\\…, deleted after the backup; excludes apply to live paths", async () => {
    // The "shadow copies": what the snapshot holds, deliberately different from nothing at C:\ on this box.
    const shadowC = await tmp();
    const shadowD = await tmp();
    await mkdir(join(shadowC, "Users", "Ann", "AppData"), { recursive: true });
    await writeFile(join(shadowC, "Users", "Ann", "report.docx"), "frozen content");
    await writeFile(join(shadowC, "Users", "Ann", "scratch.TMP"), "temp");
    await writeFile(join(shadowC, "Users", "Ann", "AppData", "cache.db"), "cache");
    await mkdir(join(shadowD, "Finance"));
    await writeFile(join(shadowD, "Finance", "ledger.xlsx"), "numbers");
    const ps = fakePowershell();
    const vss = wmiVss({
      exec: ps.exec,
      // Device path → the local stand-in directory (on Windows this is shadowPath's `${device}\rest`).
      mapPath: (shadow, volume, live) => join(shadow.device.endsWith("1") ? shadowC : shadowD, ...live.slice(volume.length).split("\\").filter(Boolean)),
    });
    const { point, events } = await setup({ includePaths: ["C:\\Users\\Ann", "d:\\Finance"], excludePaths: ["C:\\Users\\Ann\\AppData", "*.tmp"] }, vss);
    const { snap, files } = await point();
    expect(snap.paths).toEqual(["C:\\Users\\Ann", "D:\\Finance"]);
    // The engine keeps Windows paths under their drive letter in the tree (/C/…).
    expect(files.sort()).toEqual(["/C/Users/Ann/report.docx", "/D/Finance/ledger.xlsx"]);
    expect(ps.calls.map((c) => [c.kind, c.arg])).toEqual([
      ["create", "C:\\"],
      ["create", "D:\\"],
      ["delete", ids[1]],
      ["delete", ids[0]],
    ]);
    // Deleted only after the point was read and saved.
    expect(ps.calls.find((c) => c.kind === "delete")!.at).toBeGreaterThanOrEqual(Date.parse(snap.time));
    expect(events.pending().filter((e) => e.kind === "vss-failed")).toEqual([]);
  });

  it("a volume that cannot be shadowed: the shadows already made are deleted, a vss-failed event is sent, the point reads live files", async () => {
    const ps = fakePowershell({ refuse: "D:\\" });
    const vss = wmiVss({ exec: ps.exec, mapPath: () => "/nonexistent" });
    const { point, events } = await setup({ includePaths: ["C:\\Data", "D:\\Data"] }, vss);
    const { snap } = await point();
    expect(ps.calls.map((c) => [c.kind, c.arg])).toEqual([
      ["create", "C:\\"],
      ["create", "D:\\"],
      ["delete", ids[0]],
    ]);
    expect(events.pending().find((e) => e.kind === "vss-failed")?.message).toMatch(/does not support shadow copies.*reads live files/);
    // Live C:\Data does not exist on this Linux box: recorded as unreadable, not fatal.
    expect(snap.paths).toEqual(["C:\\Data", "D:\\Data"]);
    expect(snap.errors.map((e) => e.path).sort()).toEqual(["C:\\Data", "D:\\Data"]);
  });

  it("policy vss: false reads live files and never calls PowerShell", async () => {
    const ps = fakePowershell();
    const { point } = await setup({ includePaths: ["C:\\Data"], vss: false }, wmiVss({ exec: ps.exec }));
    await point();
    expect(ps.calls).toEqual([]);
  });
});
