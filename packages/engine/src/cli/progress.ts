/**
 * Backup progress on a terminal: files, bytes, rate and ETA. The backup
 * itself walks as it goes and cannot know the totals, so (as restic does) a
 * scanner counts the sources alongside it; until the scanner finishes, the
 * totals are lower bounds and there is no ETA. Only used when stderr is a
 * terminal: scripts and --json never pay for the second walk.
 */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { bytes, duration } from "./context";

export interface ScanTotals {
  files: number;
  bytes: number;
  done: boolean;
}

/**
 * Counts regular files and their sizes below `paths` (no symlink following,
 * unreadable parts skipped). Synchronous calls in ~8 ms slices: the thread
 * pool is the backup's, and async lstat per file fell far behind its walk.
 */
export function scanTotals(paths: string[], signal?: AbortSignal): ScanTotals {
  const totals: ScanTotals = { files: 0, bytes: 0, done: false };
  const stack: string[] = [];
  for (const p of [...paths].reverse()) {
    try {
      const st = lstatSync(p);
      if (st.isFile()) {
        totals.files++;
        totals.bytes += st.size;
      } else if (st.isDirectory()) stack.push(p);
    } catch {
      // Missing or unreadable: the backup reports it.
    }
  }
  const slice = () => {
    if (signal?.aborted) return;
    const until = performance.now() + 8;
    while (stack.length && performance.now() < until) {
      const dir = stack.pop()!;
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        const path = join(dir, e.name);
        if (e.isDirectory()) stack.push(path);
        else if (e.isFile()) {
          try {
            totals.bytes += lstatSync(path).size;
            totals.files++;
          } catch {
            // Gone since readdir.
          }
        }
      }
    }
    if (stack.length) setImmediate(slice);
    else totals.done = true;
  };
  setImmediate(slice);
  return totals;
}

export interface BackupTick {
  files: number;
  bytes: number;
  readBytes: number;
  errors: number;
  current?: string;
}

/** One status line: "37% 1,234/5,678 files 1.2 GiB/3.4 GiB 85.0 MiB/s ETA 27s …". */
export function formatBackupProgress(p: BackupTick, scan: ScanTotals, elapsedSec: number): string {
  const rate = p.bytes / Math.max(elapsedSec, 0.001);
  const totalBytes = Math.max(scan.bytes, p.bytes);
  const totalFiles = Math.max(scan.files, p.files);
  const parts: string[] = [];
  if (scan.done && totalBytes > 0) {
    parts.push(`${Math.min(100, Math.floor((100 * p.bytes) / totalBytes))}%`);
  }
  const more = scan.done ? "" : "≥";
  parts.push(`${p.files.toLocaleString("en-US")}/${more}${totalFiles.toLocaleString("en-US")} files`);
  parts.push(`${bytes(p.bytes)}/${more}${bytes(totalBytes)}`);
  parts.push(`${bytes(rate)}/s`);
  parts.push(`ETA ${scan.done && rate > 0 && elapsedSec >= 1 ? duration((totalBytes - p.bytes) / rate) : "?"}`);
  if (p.errors) parts.push(`${p.errors} errors`);
  if (p.current) parts.push(p.current);
  return parts.join("  ");
}
