/**
 * Keeping a resident agent small. After a point the agent goes idle for a long time, but V8
 * keeps the heap it grew while walking (and the allocator keeps freed buffers): a full
 * collection right after the point lets V8 give pages back. `--expose-gc` is switched on at
 * run time only to reach `gc()`; nothing else changes.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let gcFn: (() => void) | undefined | null;

export function collectGarbage(): void {
  if (gcFn === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as () => void;
    } catch {
      gcFn = null;
    }
  }
  gcFn?.();
}

/** Decoded trees the resident agent keeps (the engine's default, 32 MiB, suits one-shot CLI runs). */
export const AGENT_TREE_CACHE_BYTES = 8 * 1024 * 1024;

/** How the service runs node: a small young generation (the agent allocates little once idle). */
export const SERVICE_NODE_FLAGS = ["--max-semi-space-size=1"];
/**
 * glibc: a fixed mmap threshold keeps pack-sized buffers out of arenas that are never returned
 * (measured in docs/handoff-engine-walk.md), and two arenas bound per-thread growth. Linux only.
 */
export const SERVICE_ENV: Record<string, string> = { MALLOC_MMAP_THRESHOLD_: "131072", MALLOC_ARENA_MAX: "2" };
