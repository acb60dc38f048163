import { describe, expect, it } from "vitest";
import { lstat, lutimes, mkdir, writeFile, chmod, symlink } from "node:fs/promises";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { restore } from "../src/restore/restore";
import { RunQueue } from "../src/restore/run-queue";
import { CreationSplit } from "../src/restore/creation-split";
import { BLOB_DATA } from "../src/pack/format";
import { coalesce, type Located } from "../src/restore/blob-batch";
import { memRepo, randomData, tempDir, textBytes } from "./helpers";
import { describeTree, makeCorpus } from "./fs-helpers";

/** Files at several depths, one content at depth 1 and again at depth 5, a multi-chunk file, odd modes. */
async function deepCorpus(dir: string) {
  await makeCorpus(dir);
  const shared = textBytes(120_000, 9);
  await writeFile(join(dir, "top-copy.txt"), shared);
  let d = dir;
  for (let depth = 1; depth <= 5; depth++) {
    d = join(d, `level${depth}`);
    await mkdir(d);
    for (let i = 0; i < 6; i++) await writeFile(join(d, `f${i}.txt`), textBytes(3_000 + i * 500, depth * 10 + i));
    await symlink(`f0.txt`, join(d, "link"));
    await lutimes(join(d, "link"), new Date("2019-05-06T07:08:09Z"), new Date("2019-05-06T07:08:09Z"));
  }
  await writeFile(join(d, "deep-copy.txt"), shared);
  await writeFile(join(d, "multi.bin"), randomData(5_000_000));
  await chmod(join(d, "f1.txt"), 0o604);
  await chmod(join(dir, "level1"), 0o750);
}

/** Link times too: describeTree leaves them out, and restore now sets them while planning. */
async function linkTimes(root: string): Promise<number[]> {
  const out: number[] = [];
  let d = root;
  for (let depth = 1; depth <= 5; depth++) out.push(Math.floor((await lstat(join((d = join(d, `level${depth}`)), "link"))).mtimeMs));
  return out;
}

describe("restore pipeline", () => {
  for (const [name, opts] of [
    ["decode worker, files split between the threads", { decodeWorkers: 1, workerFileShare: 0.5 }],
    ["decode worker creating no files", { decodeWorkers: 1, workerFileShare: 0 }],
    ["in-thread", { decodeWorkers: 0 }],
  ] as const) {
    it(`writes data while listing goes on, byte-identical (${name})`, async () => {
      const src = await tempDir();
      const out = await tempDir();
      try {
        await deepCorpus(src.dir);
        const { store, repo } = await memRepo();
        const r = await backup(repo, { paths: [src.dir] });
        // Which packs are read, in order: data reads must start before the last listing is read.
        const dataPacks = new Set([...repo.index.entries()].filter(([, e]) => e.type === BLOB_DATA).map(([, e]) => e.pack));
        const reads: Array<"data" | "tree"> = [];
        const get = store.get.bind(store);
        store.get = (key, o) => {
          if (key.startsWith("data/")) reads.push(dataPacks.has(key.split("/").pop()!) ? "data" : "tree");
          return get(key, o);
        };
        const res = await restore(repo, r, { target: out.dir, dataAheadBytes: 1, ...opts });
        expect(res.failures).toEqual([]);
        expect(reads.indexOf("data")).toBeGreaterThanOrEqual(0);
        expect(reads.indexOf("data")).toBeLessThan(reads.lastIndexOf("tree"));
        expect(await describeTree(join(out.dir, src.dir))).toEqual(await describeTree(src.dir));
        expect(await linkTimes(join(out.dir, src.dir))).toEqual(await linkTimes(src.dir));
      } finally {
        await src.cleanup();
        await out.cleanup();
      }
    });
  }

  it("refuses a worker file share outside 0–1", async () => {
    const { repo } = await memRepo();
    const out = await tempDir();
    try {
      await expect(restore(repo, { id: "x", snapshot: { tree: "0".repeat(64) } as never }, { target: out.dir, workerFileShare: 1.5 })).rejects.toThrow(/workerFileShare must be between 0 and 1/);
    } finally {
      await out.cleanup();
    }
  });
});

describe("RunQueue", () => {
  const tick = () => new Promise<void>((r) => setTimeout(r, 5));

  it("runs at most `limit` jobs at once, in order, and drains", async () => {
    const q = new RunQueue(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    for (let i = 0; i < 7; i++)
      q.push(async () => {
        running++;
        peak = Math.max(peak, running);
        order.push(i);
        await tick();
        running--;
      });
    await q.drain();
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(q.busy()).toBe(false);
  });

  it("a failure stops new starts, waits for running jobs, and is rethrown", async () => {
    const q = new RunQueue(2);
    const started: number[] = [];
    let finishedSlow = false;
    q.push(async () => {
      started.push(0);
      await tick();
      await tick();
      finishedSlow = true;
    });
    q.push(async () => {
      started.push(1);
      throw new Error("disk full");
    });
    for (let i = 2; i < 5; i++) q.push(async () => void started.push(i));
    await expect(q.drain()).rejects.toThrow("disk full");
    expect(finishedSlow).toBe(true);
    expect(started).toEqual([0, 1]);
    expect(() => q.throwIfFailed()).toThrow("disk full");
  });

  it("refuses a limit below 1", () => {
    expect(() => new RunQueue(0)).toThrow(/at least 1/);
  });
});

describe("CreationSplit", () => {
  it("deals files out at the share", () => {
    const s = new CreationSplit(0.25);
    const dealt = Array.from({ length: 8 }, () => s.toWorker());
    expect(dealt.filter(Boolean)).toHaveLength(2);
  });

  it("gives every file to the worker by default and refuses a share outside 0–1", () => {
    const s = new CreationSplit();
    expect(Array.from({ length: 5 }, () => s.toWorker()).every(Boolean)).toBe(true);
    expect(() => new CreationSplit(-0.1)).toThrow(/between 0 and 1/);
    expect(() => new CreationSplit(1.5)).toThrow(/between 0 and 1/);
  });
});

describe("coalesce", () => {
  it("cuts runs at a plaintext limit too, so each run fits a reused buffer", () => {
    const blob = (i: number, rawLength: number): Located => ({ id: `b${i}`, e: { pack: "p", type: BLOB_DATA, offset: 40 + i * 100, length: 100, rawLength } });
    const runs = coalesce([blob(0, 300), blob(1, 300), blob(2, 300), blob(3, 900), blob(4, 10)], 1000, 1 << 20, 700);
    expect(runs.map((r) => r.map((b) => b.id))).toEqual([["b0", "b1"], ["b2"], ["b3"], ["b4"]]);
    expect(coalesce([blob(0, 300), blob(1, 300), blob(2, 300)], 1000, 1 << 20).map((r) => r.length)).toEqual([3]);
  });
});
