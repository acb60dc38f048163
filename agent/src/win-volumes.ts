/**
 * A policy volume on Windows, and where its image is read from in a cycle.
 * A drive ("C:", "C:\", "\\.\C:") is imaged from the raw device of the cycle's
 * VSS shadow (`\\?\GLOBALROOT\Device\HarddiskVolumeShadowCopyN`, no trailing
 * separator: with one it would name the shadow's root folder, not its blocks);
 * an image file on a drive is read inside that shadow like any file. Without a
 * shadow (vss off or refused) a drive is read live through `\\.\C:` ("C:" alone
 * means the current directory on C: to Windows). Whatever was read, the point
 * records the volume as the policy names it ("C:"), so block maps and restores
 * stay with the volume from one cycle to the next. Only mapping is here: it is
 * unit-tested on Linux; nothing has imaged a real shadow device yet (README).
 */
import { win32 } from "node:path";
import { volumeOf } from "./vss";

export type WindowsVolume =
  /** A whole drive: imaged from the shadow device. */
  | { kind: "drive"; volume: string; record: string }
  /** An image file on a drive: read inside that drive's shadow. */
  | { kind: "file"; volume: string; record: string }
  /** Anything else (\\.\PhysicalDrive0, a share): no shadow can cover it, read as given. */
  | { kind: "other"; record: string };

export function windowsVolume(policyVolume: string): WindowsVolume {
  const v = policyVolume.trim();
  const drive = /^(?:\\\\[.?]\\)?([A-Za-z]):[\\/]?$/.exec(v);
  if (drive) {
    const letter = drive[1]!.toUpperCase();
    return { kind: "drive", volume: `${letter}:\\`, record: `${letter}:` };
  }
  const volume = volumeOf(v);
  if (volume) return { kind: "file", volume, record: win32.normalize(v) };
  return { kind: "other", record: v };
}

/** The drives whose shadows a cycle needs for these policy volumes ("C:\\" form, as VSS takes them). */
export function shadowedVolumes(policyVolumes: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of policyVolumes) {
    const w = windowsVolume(p);
    if (w.kind !== "other") out.add(w.volume);
  }
  return [...out];
}

/**
 * Where to read a policy volume this cycle. `device(volume)`: the shadow device made for that
 * drive this cycle, if any; `read(live)`: a live path mapped into its shadow.
 */
export function volumeReadPath(w: WindowsVolume, device: (volume: string) => string | undefined, read: (live: string) => string): string {
  if (w.kind === "other") return w.record;
  const shadow = device(w.volume);
  if (w.kind === "drive") return shadow ?? `\\\\.\\${w.record}`;
  return shadow ? read(w.record) : w.record;
}
