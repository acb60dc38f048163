import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { MemoryBlobStore } from "@tidemark/storage";
import { Repository, type InitOptions } from "../src/repository";

/** Small parameters keep tests fast without changing any code path. */
export const TEST_INIT: InitOptions = {
  chunker: { min: 4 * 1024, avg: 16 * 1024, max: 64 * 1024 },
  packSize: 256 * 1024,
  scrypt: { N: 1024, r: 8, p: 1 },
};

export const PASSWORD = { password: "correct horse battery staple" };

export async function memRepo(opts: InitOptions = {}) {
  const store = new MemoryBlobStore();
  const repo = await Repository.init(store, PASSWORD, { ...TEST_INIT, ...opts });
  return { store, repo };
}

export async function tempDir(prefix = "tm-engine-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Compressible but not trivially so: words from a small vocabulary. */
export function textBytes(n: number, seed = 1): Buffer {
  const words = ["tide", "mark", "backup", "restore", "chunk", "pack", "index", "tree", "snapshot", "customer", "machine", "volume"];
  let x = seed >>> 0 || 1;
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    const w = words[x % words.length]! + (x % 7 === 0 ? "\n" : " ");
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join("")).subarray(0, n);
}

export const randomData = (n: number) => randomBytes(n);
