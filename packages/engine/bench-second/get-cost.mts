/**
 * Main-thread cost of ranged GETs from a LocalBlobStore (open/read/close per GET):
 * the same bytes of one tree pack read in many small ranges or a few large ones.
 *   ./node_modules/.bin/tsx bench-second/get-cost.mts REPO
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { createStoreFromUrl } from "@tidemark/storage";
const repo = process.argv[2]!;
const store = createStoreFromUrl(repo);
// Any pack: the cost is per request and per byte, not per content.
const dir = join(repo, "data", readdirSync(join(repo, "data"))[0]!);
const pack = readdirSync(dir)[0]!;
const size = statSync(join(dir, pack)).size;
const key = `data/${dir.split("/").pop()}/${pack}`;
for (const parts of [8, 32, 200, 800, 8, 32, 200, 800]) {
  const len = Math.floor(Math.min(size, 8 << 20) / parts);
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 8 }, async (_, w) => {
    for (let i = w; i < parts; i += 8) await store.get(key, { offset: i * len, length: len });
  }));
  const elu = performance.eventLoopUtilization(elu0);
  console.log(`${parts} GETs of ${(len / 1024).toFixed(0)} KiB: ${(performance.now() - t0).toFixed(1)} ms wall, main thread busy ${elu.active.toFixed(1)} ms`);
}
