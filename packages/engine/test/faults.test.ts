import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdir, readFile, stat, writeFile, open } from "node:fs/promises";
import { join } from "node:path";
import { MemoryBlobStore } from "@tidemark/storage";
import { backup } from "../src/backup/backup";
import { check } from "../src/check";
import { restore, RestoreTargetError } from "../src/restore/restore";
import { backupVolumes, loadVolumeMap } from "../src/backup/volume";
import { restoreVolume } from "../src/restore/volume";
import { Repository } from "../src/repository";
import { PASSWORD, TEST_INIT, memRepo, randomData, tempDir, textBytes } from "./helpers";
import { packKeyName } from "../src/pack/format";
import { describeTree } from "./fs-helpers";

const isRoot = process.getuid?.() === 0;

describe("concurrent writers", () => {
  it("two backups into the same repository at the same time both succeed and check is clean", async () => {
    const store = new MemoryBlobStore();
    await Repository.init(store, PASSWORD, TEST_INIT);
    const a = await tempDir();
    const b = await tempDir();
    const out = await tempDir();
    try {
      const shared = randomData(300_000);
      await writeFile(join(a.dir, "shared.bin"), shared);
      await writeFile(join(b.dir, "shared.bin"), shared);
      await writeFile(join(a.dir, "a.txt"), textBytes(200_000, 5));
      await writeFile(join(b.dir, "b.bin"), randomData(200_000));
      const [ra, rb] = await Promise.all([
        Repository.open(store, PASSWORD).then((r) => backup(r, { paths: [a.dir], host: "A" })),
        Repository.open(store, PASSWORD).then((r) => backup(r, { paths: [b.dir], host: "B" })),
      ]);
      const repo = await Repository.open(store, PASSWORD);
      const c = await check(repo, { readData: true });
      expect(c.errors).toEqual([]);
      expect(c.snapshots).toBe(2);
      for (const [r, dir] of [
        [ra, a.dir],
        [rb, b.dir],
      ] as const) {
        const res = await restore(repo, { id: r.id, snapshot: r.snapshot }, { target: join(out.dir, r.snapshot.host) });
        expect(res.failures).toEqual([]);
        expect(await describeTree(join(out.dir, r.snapshot.host, dir))).toEqual(await describeTree(dir));
      }
    } finally {
      await a.cleanup();
      await b.cleanup();
      await out.cleanup();
    }
  });
});

describe("volume images", () => {
  it("fixed blocks: unchanged blocks reused by fast hash, zero blocks cost nothing, restore is exact and sparse", async () => {
    const t = await tempDir();
    try {
      const bs = 64 * 1024;
      const { store, repo } = await memRepo({ blockSize: bs });
      const img = join(t.dir, "disk.img");
      const content = Buffer.concat([randomData(bs * 3), Buffer.alloc(bs * 20), textBytes(bs * 2, 4), randomData(1000)]);
      await writeFile(img, content);
      const v1 = await backupVolumes(repo, [img], { host: "h" });
      const p1 = await backup(repo, { paths: [], volumes: v1, host: "h" });
      expect(p1.snapshot.volumes[0]!.size).toBe(content.length);
      const map = await loadVolumeMap(repo, v1[0]!.map);
      expect(map.map((b) => b.id === null)).toEqual([false, false, false, ...new Array(20).fill(true), false, false, false]);
      // Zero blocks stored nothing: only 6 data blocks + map piece + map + the (empty) root tree.
      expect([...repo.index.entries()].length).toBe(9);

      // Change one block in place.
      const fh = await open(img, "r+");
      await fh.write(randomData(100), 0, 100, bs * 4 + 7);
      await fh.close();
      const before = [...repo.index.entries()].length;
      const v2 = await backupVolumes(repo, [img], { host: "h" });
      const p2 = await backup(repo, { paths: [], volumes: v2, host: "h" });
      // New: the changed block + map piece + map (+ root tree at most).
      expect([...repo.index.entries()].length - before).toBeLessThanOrEqual(4);

      const r1 = join(t.dir, "r1.img");
      const r2 = join(t.dir, "r2.img");
      const res1 = await restoreVolume(repo, p1.snapshot, "disk.img", r1);
      const res2 = await restoreVolume(repo, p2.snapshot, "disk.img", r2);
      expect(res1.failures).toEqual([]);
      expect(res1.holes).toBe(20);
      expect((await readFile(r1)).equals(content)).toBe(true);
      expect((await readFile(r2)).equals(await readFile(img))).toBe(true);
      // Holes were not written: the file occupies less than its size.
      expect((await stat(r1)).blocks * 512).toBeLessThan(content.length - 10 * bs);
      expect((await check(repo, { readData: true })).errors).toEqual([]);
      await expect(restoreVolume(repo, p1.snapshot, "nope", r1)).rejects.toThrow(/no volume "nope"/);

      // Damage block 0 (shared by both points): check names it in both, restore fails only that block.
      const e = repo.index.lookup(map[0]!.id!)!;
      const packBytes = Buffer.from(await store.get(packKeyName(e.pack)));
      packBytes[e.offset + 5]! ^= 0x20;
      await store.put(packKeyName(e.pack), packBytes);
      const c = await check(repo, { readData: true });
      expect(c.affected.map((a) => a.paths)).toEqual([["volume:disk.img block 0"], ["volume:disk.img block 0"]]);
      const bad = await restoreVolume(repo, p2.snapshot, "disk.img", r2);
      expect(bad.failures.map((f) => f.block)).toEqual([0]);
    } finally {
      await t.cleanup();
    }
  });
});

describe.skipIf(!isRoot)("disk full during restore", () => {
  it("stops with a clear error naming the target", async () => {
    const src = await tempDir();
    const mnt = await tempDir();
    try {
      await writeFile(join(src.dir, "big.bin"), randomData(600_000));
      const { repo } = await memRepo();
      const p = await backup(repo, { paths: [src.dir] });
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt.dir]);
      try {
        const target = join(mnt.dir, "restore-here");
        await mkdir(target);
        const err = await restore(repo, { id: p.id, snapshot: p.snapshot }, { target }).catch((e) => e);
        expect(err).toBeInstanceOf(RestoreTargetError);
        expect((err as Error).message).toBe(`disk full while restoring into ${target}`);
      } finally {
        execFileSync("umount", [mnt.dir]);
      }
    } finally {
      await src.cleanup();
      await mnt.cleanup();
    }
  });
});
