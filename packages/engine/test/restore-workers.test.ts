import { describe, expect, it, vi } from "vitest";
import { execFileSync } from "node:child_process";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { restore, RestoreTargetError } from "../src/restore/restore";
import { DecodePool } from "../src/restore/decode-pool";
import { decodeRun } from "../src/restore/decode-core";
import { BLOB_DATA, packKeyName } from "../src/pack/format";
import { PackWriter } from "../src/pack/writer";
import { parsePack } from "../src/pack/reader";
import { deriveKeys, newMasterKey } from "../src/crypto/keys";
import { contentId, toHex } from "../src/id";
import { memRepo, randomData, tempDir, textBytes } from "./helpers";
import { describeTree, makeCorpus } from "./fs-helpers";
import { damageBlob, treeAt } from "./restore-helpers";

async function corpusWithBigFiles(dir: string) {
  await makeCorpus(dir);
  await writeFile(join(dir, "big-text.txt"), textBytes(900_000, 7));
  await writeFile(join(dir, "big-random.bin"), randomData(700_000));
}

describe("restore with decode workers", () => {
  it("restores byte-identical trees through worker threads", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      await corpusWithBigFiles(src.dir);
      const { repo } = await memRepo();
      const r = await backup(repo, { paths: [src.dir] });
      const res = await restore(repo, r, { target: out.dir, decodeWorkers: 2 });
      expect(res.failures).toEqual([]);
      expect(await describeTree(join(out.dir, src.dir))).toEqual(await describeTree(src.dir));
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });

  it("restores byte-identical trees when the main thread decodes runs too (worker backlog)", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      await corpusWithBigFiles(src.dir);
      for (let i = 0; i < 40; i++) await writeFile(join(src.dir, `t${i}.txt`), textBytes(60_000 + i, i));
      const { repo } = await memRepo();
      const r = await backup(repo, { paths: [src.dir] });
      const here = vi.spyOn(DecodePool.prototype, "decodeHere");
      // A worker that always looks busy: every run started after planning is decoded (and its files created) here.
      vi.spyOn(DecodePool.prototype, "backlog").mockReturnValue(99);
      const res = await restore(repo, r, { target: out.dir, decodeWorkers: 1, concurrency: 16 });
      expect(res.failures).toEqual([]);
      expect(here).toHaveBeenCalled();
      expect(await describeTree(join(out.dir, src.dir))).toEqual(await describeTree(src.dir));
      vi.restoreAllMocks();
      // Again over it, files of several chunks now longer than they should be: chunks are
      // written without truncating (from either thread), the finished file is cut to size.
      await writeFile(join(out.dir, src.dir, "big-text.txt"), randomData(2_000_000));
      await writeFile(join(out.dir, src.dir, "big-random.bin"), "short");
      const again = await restore(repo, r, { target: out.dir, decodeWorkers: 1 });
      expect(again.failures).toEqual([]);
      expect(await describeTree(join(out.dir, src.dir))).toEqual(await describeTree(src.dir));
    } finally {
      vi.restoreAllMocks();
      await src.cleanup();
      await out.cleanup();
    }
  });

  it("a worker decodes exactly what the in-thread path decodes, and reports the same errors", async () => {
    const src = await tempDir();
    try {
      await corpusWithBigFiles(src.dir);
      const { store, repo } = await memRepo();
      await backup(repo, { paths: [src.dir] });
      const all = [...repo.index.entries()];
      const pack = [...repo.index.packs()].map((p) => p.id).find((id) => all.filter(([, e]) => e.pack === id).length > 3);
      expect(pack).toBeDefined();
      const blobs = all.filter(([, e]) => e.pack === pack).sort((a, b) => a[1].offset - b[1].offset);
      const start = blobs[0]![1].offset;
      const last = blobs.at(-1)![1];
      const sealed = await store.get(packKeyName(pack!), { offset: start, length: last.offset + last.length - start });
      sealed[blobs[1]![1].offset - start + 5]! ^= 0x10; // one damaged chunk in the run
      const info = repo.index.packInfo(pack!)!;
      const req = {
        pack: pack!,
        key: repo.packKey(pack!, info.salt),
        start,
        blobs: blobs.map(([id, e]) => ({ type: e.type, id, offset: e.offset, length: e.length, rawLength: e.rawLength })),
      };
      const inThread = decodeRun(repo.keys.id, { ...req, runId: 0, sealed: Buffer.from(sealed) });
      const pool = new DecodePool(repo.keys.id, { workers: 1 });
      try {
        expect(await pool.workers()).toBe(1);
        const viaWorker = await pool.decode({ ...req, sealed: Buffer.from(sealed) });
        expect(viaWorker.results).toEqual(inThread.results);
        expect(Buffer.from(viaWorker.out).equals(Buffer.from(inThread.out))).toBe(true);
        expect(viaWorker.results[1]).toEqual({ error: `pack ${pack}: chunk ${blobs[1]![0]} failed authentication` });
        expect(viaWorker.results.filter((x) => "error" in x)).toHaveLength(1);
      } finally {
        await pool.close();
      }
    } finally {
      await src.cleanup();
    }
  });

  it("a corrupt chunk decoded in a worker fails only the files that need it", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      await corpusWithBigFiles(src.dir);
      const { store, repo } = await memRepo();
      const r = await backup(repo, { paths: [src.dir] });
      const big = (await treeAt(repo, r.snapshot.tree, src.dir)).nodes.find((n) => n.name === "big-text.txt")!;
      expect(big.content!.length).toBeGreaterThan(3);
      const e = { pack: await damageBlob(store, repo, big.content![2]!, 7) };

      // Every file holding the damaged chunk (dedup may share it), and only those.
      const affected: string[] = [];
      const walk = async (id: string, rel: string) => {
        for (const n of (await repo.loadTree(id)).nodes) {
          if (n.subtree) await walk(n.subtree, `${rel}/${n.name}`);
          else if (n.content?.includes(big.content![2]!)) affected.push(`${rel}/${n.name}`.slice(1));
        }
      };
      await walk(r.snapshot.tree, "");
      expect(affected).toContain(`${src.dir.slice(1)}/big-text.txt`);
      const res = await restore(repo, r, { target: out.dir, decodeWorkers: 1 });
      expect(res.failures).toEqual(affected.sort().map((path) => ({ path, error: `pack ${e.pack}: chunk ${big.content![2]} failed authentication` })));
      await expect(readFile(join(out.dir, src.dir, "big-text.txt"))).rejects.toThrow(/ENOENT/);
      expect((await readFile(join(out.dir, src.dir, "big-random.bin"))).equals(await readFile(join(src.dir, "big-random.bin")))).toBe(true);
      expect((await readFile(join(out.dir, src.dir, "docs/a.txt"))).equals(await readFile(join(src.dir, "docs/a.txt")))).toBe(true);
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });

  it("falls back to in-thread decoding when the worker module cannot start", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      await corpusWithBigFiles(src.dir);
      const { repo } = await memRepo();
      const r = await backup(repo, { paths: [src.dir] });
      const pool = new DecodePool(repo.keys.id, { workers: 1, entry: join(src.dir, "no-such-worker.js") });
      expect(await pool.workers()).toBe(0);
      await pool.close();
      const res = await restore(repo, r, { target: out.dir, decodeWorkers: 1, decodeWorkerEntry: join(src.dir, "no-such-worker.js") });
      expect(res.failures).toEqual([]);
      expect(await describeTree(join(out.dir, src.dir))).toEqual(await describeTree(src.dir));
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });

  it.skipIf(process.getuid?.() !== 0)("disk full while a worker creates single-chunk files stops the restore naming the target", async () => {
    const src = await tempDir();
    const mnt = await tempDir();
    try {
      for (let i = 0; i < 300; i++) await writeFile(join(src.dir, `small-${i}.bin`), randomData(3000));
      const { repo } = await memRepo();
      const r = await backup(repo, { paths: [src.dir] });
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt.dir]);
      try {
        const target = join(mnt.dir, "restore-here");
        await mkdir(target);
        const err = await restore(repo, r, { target, decodeWorkers: 1 }).catch((e: unknown) => e);
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

describe("decodeRun id re-check", () => {
  it("trusts the GCM tag by default and finds a chunk sealed under the wrong id only with recheckIds", async () => {
    const keys = deriveKeys(newMasterKey());
    const w = new PackWriter(keys.enc);
    // A writer bug: the plaintext sealed under an id that is not its keyed hash.
    const lie = contentId(keys.id, Buffer.from("something else"));
    const good = Buffer.from("honest content");
    w.add(BLOB_DATA, lie, Buffer.from("actual"), 1);
    w.add(BLOB_DATA, contentId(keys.id, good), good, 1);
    const pack = w.finish();
    const parsed = parsePack(keys, pack.id, pack.bytes);
    const req = {
      runId: 0,
      pack: pack.id,
      key: parsed.key,
      start: 0,
      sealed: pack.bytes,
      blobs: parsed.blobs.map((b) => ({ type: b.type, id: toHex(b.id), offset: b.offset, length: b.length, rawLength: b.rawLength })),
    };
    const trusted = decodeRun(keys.id, req);
    expect(trusted.results.every((r) => "at" in r)).toBe(true);
    const rechecked = decodeRun(keys.id, { ...req, recheckIds: true });
    expect(rechecked.results[0]).toEqual({ error: `pack ${pack.id}: chunk ${toHex(lie)} content does not match its id` });
    const second = rechecked.results[1]!;
    expect("at" in second && Buffer.from(rechecked.out, second.at, second.length).toString()).toBe("honest content");
    // A flipped bit fails authentication either way.
    const flipped = Buffer.from(pack.bytes);
    flipped[parsed.blobs[1]!.offset + 3]! ^= 1;
    expect(decodeRun(keys.id, { ...req, sealed: flipped }).results[1]).toEqual({ error: `pack ${pack.id}: chunk ${toHex(parsed.blobs[1]!.id)} failed authentication` });
  });
});

describe("single-chunk files created whole", () => {
  it("get their exact modes whether the umask masks them or not, fresh and over an earlier restore", async () => {
    const src = await tempDir();
    const out = await tempDir();
    try {
      const modes: Record<string, number> = { plain: 0o644, masked: 0o666, exec: 0o755, setuid: 0o4755, sticky: 0o1644, readonly: 0o400, none: 0o000 };
      for (const [name, mode] of Object.entries(modes)) {
        await writeFile(join(src.dir, name), `content of ${name}`);
        await chmod(join(src.dir, name), mode);
      }
      const { repo } = await memRepo();
      const r = await backup(repo, { paths: [src.dir] });
      for (const decodeWorkers of [0, 1]) {
        const res = await restore(repo, r, { target: out.dir, decodeWorkers });
        expect(res.failures).toEqual([]);
        expect(await describeTree(join(out.dir, src.dir))).toEqual(await describeTree(src.dir));
        // Over an earlier restore whose files now have other modes: every mode is set again.
        for (const name of Object.keys(modes)) await chmod(join(out.dir, src.dir, name), 0o640);
      }
      const again = await restore(repo, r, { target: out.dir, decodeWorkers: 0 });
      expect(again.failures).toEqual([]);
      expect(await describeTree(join(out.dir, src.dir))).toEqual(await describeTree(src.dir));
      // The umask is read when each restore starts: a stricter one set later is honoured (fchmod again).
      const before = process.umask(0o077);
      try {
        // In-thread: the same module instance as the restores above.
        const strict = await restore(repo, r, { target: join(out.dir, "strict"), decodeWorkers: 0 });
        expect(strict.failures).toEqual([]);
      } finally {
        process.umask(before);
      }
      expect(await describeTree(join(out.dir, "strict", src.dir))).toEqual(await describeTree(src.dir));
    } finally {
      await src.cleanup();
      await out.cleanup();
    }
  });
});
