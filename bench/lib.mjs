/**
 * What the side-by-side benchmarks share: the corpus (real files copied from the machine), the
 * writeback wait before each timed step, and the load average printed with every number.
 * Used by bench/engine-vs-restic.mjs and packages/engine/bench-restore, bench-second.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The engine benchmark corpus: ~1.4 GB, ~50k files. */
export const DEFAULT_SOURCES = ["/usr/share", "/usr/lib/x86_64-linux-gnu"];

/** Copies each source directory into `corpus` (unreadable entries are skipped, as cp does). */
export function copyCorpus(corpus, sources = DEFAULT_SOURCES) {
  for (const src of sources) {
    spawnSync("cp", ["-a", "--no-preserve=ownership", src, join(corpus, src.replace(/^\/+/, "").replaceAll("/", "_"))]);
  }
}

/** Every regular file below `dir`. */
export function walkFiles(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walkFiles(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** The 1-, 5- and 15-minute load averages. */
export const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/**
 * Waits until the kernel has written back dirty pages (sync, then Dirty + Writeback in
 * /proc/meminfo below 32 MiB, at most `maxSeconds`): file creation costs several times more
 * while an earlier step's writeback is still running, which made whichever tool ran second
 * look slow.
 */
export function settle(maxSeconds = 60) {
  spawnSync("sync", []);
  for (let i = 0; i < maxSeconds * 2; i++) {
    const mem = readFileSync("/proc/meminfo", "utf8");
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(mem)?.[1] ?? 0);
    if (kb("Dirty") + kb("Writeback") < 32 * 1024) return;
    spawnSync("sleep", ["0.5"]);
  }
}
