/**
 * Windows policy volumes imaged through the cycle's VSS shadow. The mapping is unit-tested;
 * then capture runs as "win32" with the real WMI adapter over a fake PowerShell, the shadow's
 * device mapped to a local image file standing in for HarddiskVolumeShadowCopyN, and the real
 * engine images it: the point records "C:", its map is reused next cycle, the image restores.
 */
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { policySchema, type Policy } from "@tidemark/agent-protocol";
import { localStore } from "@tidemark/storage";
import { loadVolumeMap, restoreVolume } from "@tidemark/engine";
import { Capture, type CaptureState } from "../src/capture";
import { Repository } from "../src/engine";
import { EventBuffer } from "../src/events";
import { UploadQueue } from "../src/queue";
import { wmiVss, type Command, type Exec } from "../src/vss";
import { shadowedVolumes, volumeReadPath, windowsVolume } from "../src/win-volumes";
import { removeTmp, tmp as helperTmp } from "./helpers";

const tmp = () => helperTmp("winvol");
afterAll(removeTmp);

describe("Windows policy volumes → what is read", () => {
  it("drives in every spelling are one drive recorded as C:; image files stay files on their drive; the rest is read as given", () => {
    for (const v of ["C:", "c:", "C:\\", "c:/", "\\\\.\\C:", "\\\\?\\c:", " C: "]) expect(windowsVolume(v), v).toEqual({ kind: "drive", volume: "C:\\", record: "C:" });
    expect(windowsVolume("D:\\images\\disk.vhd")).toEqual({ kind: "file", volume: "D:\\", record: "D:\\images\\disk.vhd" });
    expect(windowsVolume("d:/images//disk.vhd")).toEqual({ kind: "file", volume: "D:\\", record: "d:\\images\\disk.vhd" });
    expect(windowsVolume("\\\\.\\PhysicalDrive0")).toEqual({ kind: "other", record: "\\\\.\\PhysicalDrive0" });
    expect(windowsVolume("\\\\srv\\share\\x.img")).toEqual({ kind: "other", record: "\\\\srv\\share\\x.img" });
    expect(shadowedVolumes(["C:", "c:\\", "D:\\images\\disk.vhd", "\\\\.\\PhysicalDrive0"])).toEqual(["C:\\", "D:\\"]);
  });

  it("a drive reads its shadow's raw device (no trailing separator), or \\\\.\\C: live without one; a file reads inside the shadow", () => {
    const dev = "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy7";
    const device = (v: string) => (v === "C:\\" ? dev : undefined);
    const read = (live: string) => `${dev}\\${live.slice(3)}`;
    expect(volumeReadPath(windowsVolume("C:"), device, read)).toBe(dev);
    expect(volumeReadPath(windowsVolume("D:"), device, read)).toBe("\\\\.\\D:");
    expect(volumeReadPath(windowsVolume("C:\\vm\\disk.img"), device, read)).toBe(`${dev}\\vm\\disk.img`);
    expect(volumeReadPath(windowsVolume("D:\\vm\\disk.img"), device, read)).toBe("D:\\vm\\disk.img");
    expect(volumeReadPath(windowsVolume("\\\\.\\PhysicalDrive1"), device, read)).toBe("\\\\.\\PhysicalDrive1");
  });
});

const ids = ["{11111111-1111-4111-8111-111111111111}", "{22222222-2222-4222-8222-222222222222}", "{33333333-3333-4333-8333-333333333333}"];

function fakePowershell(opts: { refuse?: boolean } = {}) {
  const calls: string[] = [];
  let n = 0;
  const exec: Exec = async (cmd: Command) => {
    const script = cmd.args.at(-1)!;
    const create = /Create\('([A-Z]:\\)'/.exec(script);
    if (create) {
      calls.push(`create ${create[1]}`);
      if (opts.refuse) return { stdout: "ERROR=1\r\n" };
      const i = n++;
      return { stdout: `ID=${ids[i]}\r\nDEVICE=\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy${i + 1}\r\n` };
    }
    calls.push(`delete ${/\$_\.ID -eq '(\{[^']+\})'/.exec(script)![1]}`);
    return { stdout: "DELETED" };
  };
  return { exec, calls };
}

async function setup(policy: Partial<Policy>, vss: ReturnType<typeof wmiVss>) {
  const root = await tmp();
  const repo = await Repository.init(localStore(join(root, "spool")), { kek: randomBytes(32) }, { packSize: 1024 * 1024, blockSize: 64 * 1024 });
  const queue = new UploadQueue(join(root, "queue"));
  await queue.ensure();
  const events = new EventBuffer(100);
  const state: CaptureState = {};
  const mapDir = join(root, "volume-maps");
  const capture = new Capture(repo, policySchema.parse({ rpoSeconds: 5, volumeIntervalSeconds: 60, ...policy }), queue, events, { debounceMs: 0, host: "win-box", alwaysExclude: ["C:\\ProgramData\\Tidemark"], log: () => {}, platform: "win32", vss, volumeMapDir: mapDir }, state, async () => {});
  const cycle = async () => {
    // Every call images again (interval and rpo are what keep them apart in production).
    state.lastVolumesAt = 0;
    (capture as unknown as { lastPointAt: number }).lastPointAt = 0;
    capture.tick(0);
    await capture.idle();
  };
  return { root, repo, events, state, cycle, mapDir };
}

describe("capture images a Windows volume from its VSS shadow (fake PowerShell, real engine)", () => {
  it("C: is read from the shadow device, recorded as C:, the map is kept under C: and reused next cycle; the image restores byte-identical", async () => {
    const images = await tmp();
    // Two cycles, two shadows: the second differs in one 64 KiB block.
    const shadow1 = randomBytes(1024 * 1024);
    const shadow2 = Buffer.from(shadow1);
    randomBytes(64 * 1024).copy(shadow2, 5 * 64 * 1024);
    await writeFile(join(images, "HarddiskVolumeShadowCopy1"), shadow1);
    await writeFile(join(images, "HarddiskVolumeShadowCopy2"), shadow2);
    const ps = fakePowershell();
    const vss = wmiVss({ exec: ps.exec, mapDevice: (s) => join(images, s.device.split("\\").at(-1)!) });
    const { repo, state, cycle, mapDir, events } = await setup({ volumes: ["c:\\"] }, vss);

    await cycle();
    const p1 = await repo.loadSnapshot(state.lastSnapshotId!);
    expect(p1.volumes).toHaveLength(1);
    expect(p1.volumes[0]).toMatchObject({ source: "C:", name: "C", size: shadow1.length });
    expect(ps.calls).toEqual([`create C:\\`, `delete ${ids[0]}`]);
    expect(await readdir(mapDir)).toHaveLength(1);

    await cycle();
    const p2 = await repo.loadSnapshot(state.lastSnapshotId!);
    expect(p2.volumes[0]).toMatchObject({ source: "C:", name: "C" });
    expect(ps.calls.slice(2)).toEqual([`create C:\\`, `delete ${ids[1]}`]);
    // Same map file (named by "C:", not by the shadow's changing device); only block 5 changed.
    const [m1, m2] = [await loadVolumeMap(repo, p1.volumes[0]!.map), await loadVolumeMap(repo, p2.volumes[0]!.map)];
    expect(m2.map((b, i) => (b.id === m1[i]!.id ? "" : i)).filter((x) => x !== "")).toEqual([5]);
    const mapFiles = await readdir(mapDir);
    expect(mapFiles).toHaveLength(1);

    const out = join(await tmp(), "c.img");
    const r = await restoreVolume(repo, p2, "C:", out);
    expect(r.failures).toEqual([]);
    expect((await readFile(out)).equals(shadow2)).toBe(true);
    expect(events.pending().filter((e) => e.kind === "vss-failed")).toEqual([]);

    // The kept map is what the next cycle trusts for unchanged blocks (prevMaps keyed by this cycle's
    // device): give block 0 block 1's id in it, and the third image records that id unread.
    const kept = join(mapDir, mapFiles[0]!);
    const bytes = await readFile(kept);
    bytes.copy(bytes, 4, 4 + 40, 4 + 40 + 32);
    await writeFile(kept, bytes);
    await writeFile(join(images, "HarddiskVolumeShadowCopy3"), shadow2);
    await cycle();
    const m3 = await loadVolumeMap(repo, (await repo.loadSnapshot(state.lastSnapshotId!)).volumes[0]!.map);
    expect(m3[0]!.id).toBe(m2[1]!.id);
    expect(m3.slice(1).map((b) => b.id)).toEqual(m2.slice(1).map((b) => b.id));
  });

  it("an image file on a drive is read inside that drive's shadow; include paths and the volume share one shadow", async () => {
    const shadowC = await tmp();
    const disk = randomBytes(256 * 1024);
    await writeFile(join(shadowC, "disk.img"), disk);
    await writeFile(join(shadowC, "notes.txt"), "frozen");
    const ps = fakePowershell();
    const vss = wmiVss({ exec: ps.exec, mapPath: (_s, volume, live) => join(shadowC, ...live.slice(volume.length).split("\\").filter(Boolean)) });
    const { repo, state, cycle } = await setup({ volumes: ["C:\\disk.img"], includePaths: ["C:\\notes.txt"] }, vss);
    await cycle();
    const p = await repo.loadSnapshot(state.lastSnapshotId!);
    expect(p.volumes[0]).toMatchObject({ source: "C:\\disk.img", name: "disk.img", size: disk.length });
    expect(p.paths).toEqual(["C:\\notes.txt"]);
    expect(ps.calls).toEqual([`create C:\\`, `delete ${ids[0]}`]);
  });

  it("VSS refused: a vss-failed event, and the drive is read live through \\\\.\\C: (absent on this box: the point fails loudly, nothing recorded)", async () => {
    const ps = fakePowershell({ refuse: true });
    const { state, cycle, events } = await setup({ volumes: ["C:"] }, wmiVss({ exec: ps.exec }));
    await cycle();
    expect(ps.calls).toEqual([`create C:\\`]);
    const evs = events.pending();
    expect(evs.find((e) => e.kind === "vss-failed")?.message).toMatch(/access denied.*reads live files/);
    expect(evs.find((e) => e.kind === "error" && /capture failed/.test(e.message))?.message).toMatch(/\\\\\.\\C:/);
    expect(state.lastSnapshotId).toBeUndefined();
  });
});
