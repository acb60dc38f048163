/**
 * Windows file attributes (the tree's `attrs` field: FILE_ATTRIBUTE_* bits).
 *
 * Node's stat has no attributes, so both directions are pluggable:
 * - backup: `BackupOptions.attributes(readPath, stat)` returns the bits of an
 *   entry (the agent plugs a reader on Windows; on Linux there is none and the
 *   field stays absent, so trees are unchanged);
 * - restore: an `AttributeApplier` sets them after content, modes and times
 *   (a read-only bit set earlier would block writing the file). The default
 *   for win32 batches `[IO.File]::SetAttributes` calls into one PowerShell
 *   process per 200 entries rather than one `attrib` process per file.
 *
 * What runs on Windows is only unit-tested here (the exact command and script
 * it builds): no Windows machine is available to these tests.
 */
import { spawn } from "node:child_process";

export const FILE_ATTRIBUTE = {
  READONLY: 0x1,
  HIDDEN: 0x2,
  SYSTEM: 0x4,
  DIRECTORY: 0x10,
  ARCHIVE: 0x20,
  NORMAL: 0x80,
  TEMPORARY: 0x100,
  OFFLINE: 0x1000,
  NOT_CONTENT_INDEXED: 0x2000,
} as const;

/**
 * Bits SetAttributes may set. Directory, reparse point, compressed, encrypted
 * and sparse are properties of how the entry was created, not attributes to set.
 */
export const SETTABLE_ATTRIBUTES =
  FILE_ATTRIBUTE.READONLY | FILE_ATTRIBUTE.HIDDEN | FILE_ATTRIBUTE.SYSTEM | FILE_ATTRIBUTE.ARCHIVE | FILE_ATTRIBUTE.TEMPORARY | FILE_ATTRIBUTE.OFFLINE | FILE_ATTRIBUTE.NOT_CONTENT_INDEXED;

export interface AttributeEntry {
  path: string;
  attrs: number;
}

/** Sets attributes on restored entries; returns the ones that failed. */
export interface AttributeApplier {
  apply(entries: readonly AttributeEntry[]): Promise<Array<{ path: string; error: string }>>;
}

/** One process to run: the command, its arguments and what goes to its stdin. */
export interface Invocation {
  command: string;
  args: string[];
  stdin: string;
}

/** Runs an invocation; resolves with its stdout (a non-zero exit is not an error: failures are reported per line). */
export type Runner = (inv: Invocation) => Promise<{ stdout: string; code: number }>;

const BATCH = 200;

/** A PowerShell single-quoted literal: only the quote itself needs doubling. */
function psQuote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * The PowerShell invocations that set `entries`' attributes, in batches. Each
 * failure prints "FAIL<TAB>index<TAB>message" so it can be mapped back to its path.
 * Paths are passed through a script on stdin, never on a command line.
 */
export function windowsAttributeInvocations(entries: readonly AttributeEntry[]): Invocation[] {
  const out: Invocation[] = [];
  for (let i = 0; i < entries.length; i += BATCH) {
    const batch = entries.slice(i, i + BATCH);
    const lines = ["$ErrorActionPreference = 'Stop'"];
    batch.forEach((e, j) => {
      // NORMAL is only valid alone; an entry with no settable bit gets NORMAL (clears read-only etc.).
      const bits = e.attrs & SETTABLE_ATTRIBUTES || FILE_ATTRIBUTE.NORMAL;
      lines.push(`try { [System.IO.File]::SetAttributes(${psQuote(e.path)}, [System.IO.FileAttributes]${bits}) } catch { [Console]::Out.WriteLine("FAIL\`t${j}\`t" + $_.Exception.Message) }`);
    });
    out.push({ command: "powershell.exe", args: ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", "-"], stdin: lines.join("\r\n") + "\r\n" });
  }
  return out;
}

/** Maps a batch's "FAIL\tindex\tmessage" lines back to paths. */
export function parseAttributeFailures(batch: readonly AttributeEntry[], stdout: string): Array<{ path: string; error: string }> {
  const failures: Array<{ path: string; error: string }> = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^FAIL\t(\d+)\t(.*)$/.exec(line);
    const e = m ? batch[Number(m[1])] : undefined;
    if (e) failures.push({ path: e.path, error: `attributes not set: ${m![2]!.trim()}` });
  }
  return failures;
}

export const spawnRunner: Runner = (inv) =>
  new Promise((resolve, reject) => {
    const child = spawn(inv.command, inv.args, { stdio: ["pipe", "pipe", "ignore"], windowsHide: true });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ stdout, code: code ?? -1 }));
    child.stdin.end(inv.stdin);
  });

/** The win32 applier (PowerShell). `run` is injectable for tests. */
export function windowsAttributeApplier(run: Runner = spawnRunner): AttributeApplier {
  return {
    async apply(entries) {
      const failures: Array<{ path: string; error: string }> = [];
      const invocations = windowsAttributeInvocations(entries);
      for (let b = 0; b < invocations.length; b++) {
        const batch = entries.slice(b * BATCH, (b + 1) * BATCH);
        try {
          const { stdout, code } = await run(invocations[b]!);
          const failed = parseAttributeFailures(batch, stdout);
          // A script that died before reporting (PowerShell missing, killed) fails the whole batch.
          if (code !== 0 && failed.length === 0) failures.push(...batch.map((e) => ({ path: e.path, error: `attributes not set: powershell exited ${code}` })));
          else failures.push(...failed);
        } catch (e) {
          failures.push(...batch.map((x) => ({ path: x.path, error: `attributes not set: ${(e as Error).message}` })));
        }
      }
      return failures;
    },
  };
}

/** The applier for this platform: PowerShell on win32, none elsewhere (the bits mean nothing there). */
export function defaultAttributeApplier(platform: NodeJS.Platform = process.platform): AttributeApplier | undefined {
  return platform === "win32" ? windowsAttributeApplier() : undefined;
}
