/**
 * Windows VSS through PowerShell/WMI (Win32_ShadowCopy): create a shadow of a
 * volume, read the shadow's device path, delete it. This module only BUILDS
 * the commands and PARSES their output, so all of it is unit-tested on Linux;
 * nothing here has run against a real Windows VSS yet (see README).
 */
import { execFile } from "node:child_process";

export interface Command {
  file: string;
  args: string[];
}

const PS = ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command"];

/** "C:", "c:\\" or "C:\\" → "C:\\" (what Win32_ShadowCopy.Create wants). */
export function normalizeVolume(volume: string): string {
  const m = /^([A-Za-z]):\\?$/.exec(volume.trim());
  if (!m) throw new Error(`not a drive volume: ${JSON.stringify(volume)} (expected e.g. "C:\\")`);
  return `${m[1]!.toUpperCase()}:\\`;
}

const psQuote = (s: string) => `'${s.replace(/'/g, "''")}'`;

export function createShadowCommand(volume: string): Command {
  const v = normalizeVolume(volume);
  // One line of "key=value" pairs: stable to parse whatever the console encoding.
  const script = [
    "$ErrorActionPreference = 'Stop'",
    `$r = (Get-WmiObject -List Win32_ShadowCopy).Create(${psQuote(v)}, 'ClientAccessible')`,
    "if ($r.ReturnValue -ne 0) { Write-Output ('ERROR=' + $r.ReturnValue); exit 2 }",
    "$s = Get-WmiObject Win32_ShadowCopy | Where-Object { $_.ID -eq $r.ShadowID }",
    "Write-Output ('ID=' + $s.ID)",
    "Write-Output ('DEVICE=' + $s.DeviceObject)",
  ].join("; ");
  return { file: "powershell.exe", args: [...PS, script] };
}

export function deleteShadowCommand(shadowId: string): Command {
  if (!/^\{[0-9A-Fa-f-]{36}\}$/.test(shadowId)) throw new Error(`not a shadow copy id: ${JSON.stringify(shadowId)}`);
  const script = ["$ErrorActionPreference = 'Stop'", `Get-WmiObject Win32_ShadowCopy | Where-Object { $_.ID -eq ${psQuote(shadowId)} } | ForEach-Object { $_.Delete() }`, "Write-Output 'DELETED'"].join("; ");
  return { file: "powershell.exe", args: [...PS, script] };
}

/** WMI Create return codes (Win32_ShadowCopy.Create documentation). */
const CREATE_ERRORS: Record<string, string> = {
  "1": "access denied (the agent must run as LocalSystem or an administrator)",
  "2": "invalid argument",
  "3": "the volume was not found",
  "4": "the volume does not support shadow copies",
  "5": "unsupported shadow copy context",
  "6": "insufficient storage for the shadow copy",
  "7": "the volume is in use",
  "8": "the maximum number of shadow copies is reached",
  "9": "another shadow copy operation is in progress",
  "10": "a shadow copy provider vetoed the operation",
  "11": "the shadow copy provider is not registered",
  "12": "shadow copy provider failure",
  "13": "unknown error",
};

export interface Shadow {
  id: string;
  /** e.g. \\?\GLOBALROOT\Device\HarddiskVolumeShadowCopy12 — read files below it as `${device}\\path`. */
  device: string;
}

export function parseCreateOutput(stdout: string): Shadow {
  const kv = new Map<string, string>();
  for (const line of stdout.split(/\r?\n/)) {
    const i = line.indexOf("=");
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const err = kv.get("ERROR");
  if (err !== undefined) throw new Error(`VSS shadow copy failed: ${CREATE_ERRORS[err] ?? `WMI return code ${err}`}`);
  const id = kv.get("ID");
  const device = kv.get("DEVICE");
  if (!id || !/^\{[0-9A-Fa-f-]{36}\}$/.test(id)) throw new Error(`VSS: no shadow id in PowerShell output: ${JSON.stringify(stdout.slice(0, 200))}`);
  if (!device || !/^\\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy\d+$/.test(device)) throw new Error(`VSS: no shadow device path in PowerShell output: ${JSON.stringify(stdout.slice(0, 200))}`);
  return { id, device };
}

/** Maps a live path on the volume to the same path inside the shadow. */
export function shadowPath(shadow: Shadow, volume: string, livePath: string): string {
  const v = normalizeVolume(volume);
  if (!livePath.toUpperCase().startsWith(v.toUpperCase())) throw new Error(`${livePath} is not on ${v}`);
  return `${shadow.device}\\${livePath.slice(v.length)}`;
}

export type Exec = (cmd: Command, timeoutMs: number) => Promise<{ stdout: string }>;

export const execCommand: Exec = (cmd, timeoutMs) =>
  new Promise((resolve, reject) =>
    execFile(cmd.file, cmd.args, { timeout: timeoutMs, windowsHide: true, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd.file} failed: ${(stderr || stdout || err.message).toString().trim().slice(0, 500)}`));
      else resolve({ stdout: stdout.toString() });
    }),
  );

/** Create → use → always delete. */
export async function withShadow<T>(volume: string, use: (s: Shadow) => Promise<T>, exec: Exec = execCommand, timeoutMs = 120_000): Promise<T> {
  const shadow = parseCreateOutput((await exec(createShadowCommand(volume), timeoutMs)).stdout);
  try {
    return await use(shadow);
  } finally {
    await exec(deleteShadowCommand(shadow.id), timeoutMs);
  }
}

/** The volume a Windows path is on ("C:\\"), or undefined (UNC shares and the like cannot be shadowed). */
export function volumeOf(path: string): string | undefined {
  const m = /^([A-Za-z]):(?:[\\/]|$)/.exec(path);
  return m ? `${m[1]!.toUpperCase()}:\\` : undefined;
}

/** Live path → where to read it for this cycle. */
export type ReadPath = (livePath: string) => string;

/** A volume ("C:\\") → the raw device of its shadow this cycle (imaging), or undefined when none was made. */
export type ShadowDevice = (volume: string) => string | undefined;

/** What capture needs from VSS: shadows for a cycle, always released. Injected in tests. */
export interface VssAdapter {
  withShadows<T>(volumes: string[], use: (read: ReadPath, device: ShadowDevice) => Promise<T>): Promise<T>;
}

/**
 * Win32_ShadowCopy through PowerShell: one shadow per volume (created one after
 * the other: WMI has no multi-volume shadow set, so volumes are not frozen at
 * the same instant), all deleted afterwards even when the cycle fails. A volume
 * whose shadow cannot be made fails the whole cycle's VSS; the caller reads live.
 */
export function wmiVss(
  opts: {
    exec?: Exec;
    timeoutMs?: number;
    mapPath?: typeof shadowPath;
    /** The device a shadow is imaged from; default its DeviceObject (tests map it to a local image). */
    mapDevice?: (shadow: Shadow, volume: string) => string;
    onWarning?: (message: string) => void;
  } = {},
): VssAdapter {
  const exec = opts.exec ?? execCommand;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const mapPath = opts.mapPath ?? shadowPath;
  const mapDevice = opts.mapDevice ?? ((shadow: Shadow) => shadow.device);
  return {
    async withShadows(volumes, use) {
      const made: Array<{ volume: string; shadow: Shadow }> = [];
      try {
        for (const volume of [...new Set(volumes.map(normalizeVolume))]) {
          made.push({ volume, shadow: parseCreateOutput((await exec(createShadowCommand(volume), timeoutMs)).stdout) });
        }
        return await use(
          (live) => {
            const v = volumeOf(live);
            const hit = v && made.find((m) => m.volume === v);
            return hit ? mapPath(hit.shadow, hit.volume, live) : live;
          },
          (volume) => {
            const v = volumeOf(volume);
            const hit = v && made.find((m) => m.volume === v);
            return hit ? mapDevice(hit.shadow, hit.volume) : undefined;
          },
        );
      } finally {
        for (const m of made.reverse()) {
          // A shadow left behind costs disk space until Windows ages it out: said loudly, but the
          // cycle's point (already read) stands.
          await exec(deleteShadowCommand(m.shadow.id), timeoutMs).catch((e: Error) => opts.onWarning?.(`VSS: could not delete shadow copy ${m.shadow.id} of ${m.volume}: ${e.message}`));
        }
      }
    },
  };
}
