import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { restore } from "../src/restore/restore";
import { check } from "../src/check";
import { prune } from "../src/prune";
import type { IndexEntry } from "../src/index/index";
import { Repository } from "../src/repository";
import { packKeyName } from "../src/pack/format";
import { memRepo, PASSWORD, tempDir } from "./helpers";
import { describeTree, makeCorpus } from "./fs-helpers";

describe("distrusted chunks (the service found their stored copies corrupt)", () => {
  it("are uploaded again by the next backup, even for unchanged files, and the fresh copy is what restore reads", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      await makeCorpus(src.dir);
      const { store, repo } = await memRepo();
      const first = await backup(repo, { paths: [src.dir], host: "h" });
      let t = await repo.loadTree(first.snapshot.tree);
      for (const part of `${src.dir}/docs/deep/deeper`.split("/").filter(Boolean)) t = await repo.loadTree(t.nodes.find((n) => n.name === part)!.subtree!);
      const id = t.nodes.find((n) => n.name === "small")!.content![0]!;
      const bad = repo.index.lookup(id)!;
      const bytes = Buffer.from(await store.get(packKeyName(bad.pack)));
      bytes[bad.offset + 3]! ^= 0x01;
      await store.put(packKeyName(bad.pack), bytes);

      // Control: without distrust the unchanged files are neither read nor stored again.
      const control = await backup(repo, { paths: [src.dir], host: "h" });
      expect(control.snapshot.stats.readBytes).toBe(0);
      expect(repo.index.lookup(id)!.pack).toBe(bad.pack);
      expect(repo.index.usable(id)).toBe(true);

      repo.index.distrust([id, "ab".repeat(32)]);
      expect(repo.index.usable(id)).toBe(false);
      const healed = await backup(repo, { paths: [src.dir], host: "h" });
      expect(healed.snapshot.stats.readBytes).toBe("hello".length);
      expect(healed.snapshot.stats.newBytes).toBeGreaterThanOrEqual("hello".length);
      expect(repo.index.usable(id)).toBe(true);
      expect(repo.index.lookup(id)!.pack).not.toBe(bad.pack);

      // Once stored again, the id deduplicates as before.
      const after = await backup(repo, { paths: [src.dir], host: "h" });
      expect(after.snapshot.stats.readBytes).toBe(0);

      const res = await restore(repo, { id: healed.id, snapshot: healed.snapshot }, { target: out.dir });
      expect(res.failures).toEqual([]);
      expect(await describeTree(join(out.dir, src.dir))).toEqual(await describeTree(src.dir));
      // The fresh copy is durable and its pack indexed for other readers too.
      const fresh = repo.index.lookup(id)!.pack;
      const reopened = await Repository.open(store, PASSWORD);
      expect(reopened.index.packInfo(fresh)).toBeDefined();
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });

  it("a reader that picks the corrupt copy first falls back to the fresh one (restore, readBlob, with and without decode workers)", async () => {
    const src = await tempDir();
    try {
      const { store, repo, id, bad, healed } = await healedRepository(src.dir);

      // Another process opens the container: both copies are indexed. Make the corrupt one the
      // chosen copy (which one loads first depends on index object names, so either can be).
      const reader = await Repository.open(store, PASSWORD);
      const copies = [reader.index.lookup(id)!, ...reader.index.alternates(id)];
      expect(copies.map((c) => c.pack).sort()).toEqual([bad.pack, repo.index.lookup(id)!.pack].sort());
      preferCopy(reader, id, bad);
      expect(reader.index.lookup(id)!.pack).toBe(bad.pack);
      expect(reader.index.alternates(id).map((c) => c.pack)).toEqual([repo.index.lookup(id)!.pack]);

      expect((await reader.readBlob(id)).toString()).toBe("hello");
      for (const decodeWorkers of [0, 1]) {
        const out = await tempDir();
        try {
          const res = await restore(reader, { id: healed.id, snapshot: healed.snapshot }, { target: out.dir, decodeWorkers });
          expect(res.failures).toEqual([]);
          expect(await describeTree(join(out.dir, src.dir))).toEqual(await describeTree(src.dir));
        } finally {
          await out.cleanup();
        }
      }

      // check --read-data: the bad copy is reported, but no chunk is damaged and no file affected.
      const healthy = await check(await Repository.open(store, PASSWORD), { readData: true });
      expect(healthy.damagedChunks).toEqual([]);
      expect(healthy.affected).toEqual([]);
      expect(healthy.damagedCopies.map((c) => [c.chunk, c.pack])).toEqual([[id, bad.pack]]);
      expect(healthy.damagedPacks.map((p) => p.pack)).toEqual([bad.pack]);

      // Control: with only the corrupt copy (no alternate), restore fails exactly that file.
      const lone = await Repository.open(store, PASSWORD);
      const fresh = repo.index.lookup(id)!.pack;
      await store.delete(packKeyName(fresh));
      const broken = await check(await Repository.open(store, PASSWORD), { readData: true });
      expect(broken.damagedChunks.map((c) => c.chunk)).toContain(id);
      expect(broken.affected.flatMap((a) => a.paths)).toContain(`${src.dir}/docs/deep/deeper/small`);
      const out = await tempDir();
      try {
        const res = await restore(lone, { id: healed.id, snapshot: healed.snapshot }, { target: out.dir });
        expect(res.failures.map((f) => f.path)).toEqual([`${src.dir.slice(1)}/docs/deep/deeper/small`]);
      } finally {
        await out.cleanup();
      }
    } finally {
      await src.cleanup();
    }
  });

  it("prune keeps a verified copy: repacking a healed repository never leaves only the corrupt copy", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      const { store, repo, id, bad, healed } = await healedRepository(src.dir);
      const freshPack = repo.index.lookup(id)!.pack;

      // A pruner whose index chose the corrupt copy, told to repack every pack (the fresh pack is
      // mostly unused from its point of view): the first run condemns and repacks, the second deletes.
      const pruner = await Repository.open(store, PASSWORD);
      preferCopy(pruner, id, bad);
      const t0 = Date.now();
      const r1 = await prune(pruner, { graceMs: 1000, repackBelow: 1.01, now: () => new Date(t0) });
      expect(r1.condemned).toEqual(expect.arrayContaining([bad.pack, freshPack]));
      const r2 = await prune(await Repository.open(store, PASSWORD), { graceMs: 1000, repackBelow: 1.01, now: () => new Date(t0 + 5000) });
      expect(r2.deleted).toEqual(expect.arrayContaining([bad.pack, freshPack]));

      const after = await Repository.open(store, PASSWORD);
      const report = await check(after, { readData: true });
      expect(report.errors).toEqual([]);
      expect(report.ok).toBe(true);
      const res = await restore(after, { id: healed.id, snapshot: healed.snapshot }, { target: out.dir });
      expect(res.failures).toEqual([]);
      expect(await describeTree(join(out.dir, src.dir))).toEqual(await describeTree(src.dir));
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });
});

/**
 * A repository after a self-heal: the "small" file's only chunk was corrupted in its pack,
 * distrusted and stored again by a second backup, so the container indexes two copies of it.
 */
async function healedRepository(dir: string) {
  await makeCorpus(dir);
  const { store, repo } = await memRepo();
  const first = await backup(repo, { paths: [dir], host: "h" });
  let t = await repo.loadTree(first.snapshot.tree);
  for (const part of `${dir}/docs/deep/deeper`.split("/").filter(Boolean)) t = await repo.loadTree(t.nodes.find((n) => n.name === part)!.subtree!);
  const id = t.nodes.find((n) => n.name === "small")!.content![0]!;
  const bad = repo.index.lookup(id)!;
  const bytes = Buffer.from(await store.get(packKeyName(bad.pack)));
  bytes[bad.offset + 3]! ^= 0x01;
  await store.put(packKeyName(bad.pack), bytes);
  repo.index.distrust([id]);
  const healed = await backup(repo, { paths: [dir], host: "h" });
  return { store, repo, id, bad, healed };
}

/** Makes `copy` the chosen copy of `id` in this reader's index (which loads first depends on object names). */
function preferCopy(reader: Repository, id: string, copy: IndexEntry) {
  if (reader.index.lookup(id)!.pack === copy.pack) return;
  reader.index.distrust([id]);
  reader.index.addPacks([{ ...reader.index.packInfo(copy.pack)!, blobs: [{ type: copy.type, id: Buffer.from(id, "hex"), offset: copy.offset, length: copy.length, rawLength: copy.rawLength }] }]);
}
