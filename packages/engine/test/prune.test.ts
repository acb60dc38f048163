import { describe, expect, it } from "vitest";
import { rm, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { MemoryBlobStore } from "@tidemark/storage";
import { backup } from "../src/backup/backup";
import { check } from "../src/check";
import { prune } from "../src/prune";
import { restore } from "../src/restore/restore";
import { Repository } from "../src/repository";
import { PASSWORD, TEST_INIT, randomData, tempDir } from "./helpers";
import { describeTree } from "./fs-helpers";

const HOUR = 3600_000;

async function world() {
  let clock = Date.parse("2026-03-01T00:00:00Z");
  const store = new MemoryBlobStore({ now: () => new Date(clock) });
  await Repository.init(store, PASSWORD, TEST_INIT);
  const src = await tempDir();
  return {
    store,
    src,
    open: () => Repository.open(store, PASSWORD),
    now: () => new Date(clock),
    advance: (ms: number) => (clock += ms),
  };
}

async function packNames(store: MemoryBlobStore): Promise<string[]> {
  const out: string[] = [];
  for await (const m of store.list("data/")) out.push(m.key);
  return out;
}

async function dataSize(store: MemoryBlobStore): Promise<number> {
  let n = 0;
  for await (const m of store.list("data/")) n += m.size;
  return n;
}

describe("prune", () => {
  it("deletes unreferenced packs only after the grace period and keeps everything else intact", async () => {
    const w = await world();
    const out = await tempDir();
    try {
      await mkdir(join(w.src.dir, "keep"));
      await mkdir(join(w.src.dir, "gone"));
      await writeFile(join(w.src.dir, "keep/k.bin"), randomData(400_000));
      let repo = await w.open();
      // gone/ is captured only by point a, so its chunks sit in packs of their own.
      await backup(repo, { paths: [w.src.dir] });
      await writeFile(join(w.src.dir, "gone/g.bin"), randomData(400_000));
      await backup(repo, { paths: [w.src.dir] });
      await rm(join(w.src.dir, "gone"), { recursive: true });
      const b = await backup(repo, { paths: [w.src.dir] });
      for (const p of await repo.listSnapshots()) if (p.id !== b.id) await repo.deleteSnapshot(p.id);
      const before = await dataSize(w.store);
      const packsBefore = await packNames(w.store);

      repo = await w.open();
      const r1 = await prune(repo, { graceMs: HOUR, now: w.now });
      expect(r1.condemned.length).toBeGreaterThan(0);
      expect(r1.deleted).toEqual([]);
      // Nothing deleted yet (repacking sparse packs may have added some).
      expect(await packNames(w.store)).toEqual(expect.arrayContaining(packsBefore));
      const afterMark = await dataSize(w.store);
      expect(afterMark).toBeGreaterThanOrEqual(before);

      w.advance(2 * HOUR);
      repo = await w.open();
      const r2 = await prune(repo, { graceMs: HOUR, now: w.now });
      expect(r2.deleted.sort()).toEqual(r1.condemned.sort());
      // Every pack holding gone/g.bin (400 kB of random data) went; nothing else did.
      expect(r2.reclaimedBytes).toBeGreaterThanOrEqual(400_000);
      expect(await dataSize(w.store)).toBe(afterMark - r2.reclaimedBytes);

      repo = await w.open();
      const c = await check(repo, { readData: true });
      expect(c.errors).toEqual([]);
      const res = await restore(repo, await repo.resolveSnapshot(b.id), { target: out.dir });
      expect(res.failures).toEqual([]);
      expect(await describeTree(join(out.dir, w.src.dir))).toEqual(await describeTree(w.src.dir));
    } finally {
      await w.src.cleanup();
      await out.cleanup();
    }
  });

  it("a backup committed while prune runs stays intact (it reused blobs of a pack prune condemned)", async () => {
    const w = await world();
    try {
      await writeFile(join(w.src.dir, "f.bin"), randomData(300_000));
      let repo = await w.open();
      const a = await backup(repo, { paths: [w.src.dir] });
      await repo.deleteSnapshot(a.id);

      // A backup process opens the repository before prune marks anything…
      const concurrent = await w.open();
      const r1 = await prune(await w.open(), { graceMs: HOUR, now: w.now });
      expect(r1.condemned.length).toBeGreaterThan(0);
      // …and commits a point that deduplicates against the condemned packs.
      const b = await backup(concurrent, { paths: [w.src.dir], parent: "none" });
      expect(b.snapshot.stats.newBytes).toBeLessThan(10_000); // only trees were new

      w.advance(2 * HOUR);
      repo = await w.open();
      const r2 = await prune(repo, { graceMs: HOUR, now: w.now });
      expect(r2.repacked.length).toBeGreaterThan(0); // the still-needed blobs were copied first
      expect(r2.deleted.length).toBeGreaterThan(0);

      repo = await w.open();
      expect((await check(repo, { readData: true })).errors).toEqual([]);
      const out = await tempDir();
      try {
        expect((await restore(repo, await repo.resolveSnapshot(b.id), { target: out.dir })).failures).toEqual([]);
      } finally {
        await out.cleanup();
      }
    } finally {
      await w.src.cleanup();
    }
  });

  it("a backup started after the mark does not deduplicate against condemned packs", async () => {
    const w = await world();
    try {
      await writeFile(join(w.src.dir, "f.bin"), randomData(200_000));
      let repo = await w.open();
      const a = await backup(repo, { paths: [w.src.dir] });
      await repo.deleteSnapshot(a.id);
      await prune(await w.open(), { graceMs: HOUR, now: w.now });
      repo = await w.open();
      const b = await backup(repo, { paths: [w.src.dir], parent: "none" });
      expect(b.snapshot.stats.newBytes).toBeGreaterThanOrEqual(200_000);
      w.advance(2 * HOUR);
      const r = await prune(await w.open(), { graceMs: HOUR, now: w.now });
      expect(r.repacked).toEqual([]);
      expect(r.deleted.length).toBeGreaterThan(0);
      expect((await check(await w.open(), { readData: true })).errors).toEqual([]);
    } finally {
      await w.src.cleanup();
    }
  });

  it("removes packs of an interrupted backup (uploaded, never indexed) after the grace period", async () => {
    const w = await world();
    try {
      await writeFile(join(w.src.dir, "f.bin"), randomData(300_000));
      const repo = await w.open();
      const saver = repo.newSaver();
      // Simulate a crash after uploads but before the index object: push a pack by hand.
      const { PackWriter } = await import("../src/pack/writer");
      const { packKeyName } = await import("../src/pack/format");
      const pw = new PackWriter(repo.keys.enc);
      const data = randomData(1000);
      pw.add(0, Buffer.from(repo.id(data), "hex"), data, 1);
      const p = pw.finish();
      await w.store.put(packKeyName(p.id), p.bytes);
      void saver;
      expect((await check(await w.open())).unindexedPacks).toEqual([p.id]);
      expect((await prune(await w.open(), { graceMs: HOUR, now: w.now })).unindexedDeleted).toEqual([]);
      w.advance(2 * HOUR);
      expect((await prune(await w.open(), { graceMs: HOUR, now: w.now })).unindexedDeleted).toEqual([p.id]);
      expect((await check(await w.open())).ok).toBe(true);
    } finally {
      await w.src.cleanup();
    }
  });
});
