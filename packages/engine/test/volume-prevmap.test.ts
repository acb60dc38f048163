import { describe, expect, it, vi } from "vitest";
import { open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { backupVolumes, decodeVolumeMap, loadVolumeMap, type VolumeMapBytes } from "../src/backup/volume";
import { restoreVolume } from "../src/restore/volume";
import { RepositoryError } from "../src/errors";
import { memRepo, randomData, tempDir } from "./helpers";

const BLOCK = 16 * 1024;

describe("backupVolumes with prevMaps (maps kept by the caller)", () => {
  it("reuses unchanged blocks from the kept map without reading the repository's map (data packs trimmed)", async () => {
    const tmp = await tempDir();
    try {
      const img = join(tmp.dir, "disk.img");
      await writeFile(img, Buffer.concat([randomData(BLOCK * 6), Buffer.alloc(BLOCK * 2)]));
      const { store, repo } = await memRepo({ blockSize: BLOCK });
      const kept = new Map<string, VolumeMapBytes>();
      const v1 = await backupVolumes(repo, [img], { host: "h", onMap: (s, m) => kept.set(s, m) });
      await backup(repo, { paths: [], host: "h", volumes: v1 });
      expect([...kept.keys()]).toEqual([img]);
      expect(kept.get(img)!.map.length).toBe(8 * 40);
      expect(decodeVolumeMap(kept.get(img)!.map)).toEqual(await loadVolumeMap(repo, v1[0]!.map));

      // The agent trims data packs after upload: the stored map is no longer readable here.
      for await (const m of store.list("data/")) await store.delete(m.key);
      const f = await open(img, "r+");
      await f.write(randomData(BLOCK), 0, BLOCK, 3 * BLOCK);
      await f.close();

      const hashes = vi.spyOn(repo, "id");
      const next = new Map<string, VolumeMapBytes>();
      const v2 = await backupVolumes(repo, [img], { host: "h", prevMaps: kept, onMap: (s, m) => next.set(s, m) });
      // One changed block + one map piece + the map index: nothing else is hashed.
      expect(hashes).toHaveBeenCalledTimes(3);
      const before = decodeVolumeMap(kept.get(img)!.map);
      const after = decodeVolumeMap(next.get(img)!.map);
      expect(after.filter((b, i) => b.id !== before[i]!.id).length).toBe(1);
      expect(after[3]!.id).not.toBe(before[3]!.id);
      expect(after[6]!.id).toBeNull();

      // Control: without the kept map every non-zero block is hashed again.
      hashes.mockClear();
      await backup(repo, { paths: [], host: "h", volumes: v2 });
      for await (const m of store.list("data/")) await store.delete(m.key);
      await backupVolumes(repo, [img], { host: "h" });
      expect(hashes.mock.calls.length).toBeGreaterThanOrEqual(6);
      hashes.mockRestore();
    } finally {
      await tmp.cleanup();
    }
  });

  it("restores what a prevMaps backup recorded; refuses a map of the wrong length; ignores another block size", async () => {
    const tmp = await tempDir();
    try {
      const img = join(tmp.dir, "disk.img");
      const content = randomData(BLOCK * 4);
      await writeFile(img, content);
      const { repo } = await memRepo({ blockSize: BLOCK });
      const kept = new Map<string, VolumeMapBytes>();
      await backupVolumes(repo, [img], { host: "h", onMap: (s, m) => kept.set(s, m) });
      await expect(backupVolumes(repo, [img], { host: "h", prevMaps: new Map([[img, { blockSize: BLOCK, map: Buffer.alloc(41) }]]) })).rejects.toBeInstanceOf(RepositoryError);
      const hashes = vi.spyOn(repo, "id");
      await backupVolumes(repo, [img], { host: "h", prevMaps: new Map([[img, { blockSize: BLOCK * 2, map: kept.get(img)!.map }]]) });
      expect(hashes.mock.calls.length).toBe(4 + 2);
      hashes.mockRestore();
      const v = await backupVolumes(repo, [img], { host: "h", prevMaps: kept });
      const point = await backup(repo, { paths: [], host: "h", volumes: v });
      const out = join(tmp.dir, "out.img");
      const r = await restoreVolume(repo, point.snapshot, "disk.img", out);
      expect(r.failures).toEqual([]);
      const { readFile } = await import("node:fs/promises");
      expect((await readFile(out)).equals(content)).toBe(true);
    } finally {
      await tmp.cleanup();
    }
  });
});
