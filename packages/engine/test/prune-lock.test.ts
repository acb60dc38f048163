import { describe, expect, it } from "vitest";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MemoryBlobStore } from "@tidemark/storage";
import { backup } from "../src/backup/backup";
import { LOCK_PREFIX, prune, PruneLock, PruneLockedError } from "../src/prune";
import { Repository } from "../src/repository";
import { PASSWORD, TEST_INIT, randomData, tempDir } from "./helpers";

async function lockKeys(store: MemoryBlobStore): Promise<string[]> {
  const out: string[] = [];
  for await (const m of store.list(LOCK_PREFIX)) out.push(m.key);
  return out;
}

async function repoWithPoint() {
  const store = new MemoryBlobStore();
  const repo = await Repository.init(store, PASSWORD, TEST_INIT);
  const src = await tempDir();
  await writeFile(join(src.dir, "f.bin"), randomData(100_000));
  await backup(repo, { paths: [src.dir] });
  await src.cleanup();
  return { store, repo };
}

describe("prune lock", () => {
  it("a prune refuses to run while another holds the lock, and runs once it is released", async () => {
    const { store, repo } = await repoWithPoint();
    const held = await PruneLock.acquire(store);
    const err = await prune(repo, { graceMs: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PruneLockedError);
    expect((err as Error).message).toMatch(/another prune is running on this repository \(host .+, pid \d+/);
    await held.release();
    await expect(prune(repo, { graceMs: 0 })).resolves.toMatchObject({ points: 1 });
    expect(await lockKeys(store)).toEqual([]);
  });

  it("of two prunes started together exactly one runs", async () => {
    const { store } = await repoWithPoint();
    const [a, b] = await Promise.all([Repository.open(store, PASSWORD), Repository.open(store, PASSWORD)]);
    const results = await Promise.allSettled([prune(a, { graceMs: 0 }), prune(b, { graceMs: 0 })]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toBeInstanceOf(PruneLockedError);
    expect(await lockKeys(store)).toEqual([]);
  });

  it("takes over a stale lock; the stalled holder finds out before deleting anything", async () => {
    const { store, repo } = await repoWithPoint();
    const stalled = await PruneLock.acquire(store, 60_000);
    // A crashed prune's lock, last refreshed two hours ago, must not block prune forever.
    await store.put(stalled.key, Buffer.from(JSON.stringify({ host: "gone", pid: 1, time: new Date(Date.now() - 2 * 3600_000).toISOString(), token: "x" })));
    const taker = await PruneLock.acquire(store, 60_000);
    expect(taker.key > stalled.key).toBe(true);
    await expect(stalled.ensureHeld()).rejects.toThrow(/lost the repository lock/);
    await stalled.release(); // must not remove the taker's lock
    expect(await lockKeys(store)).toEqual([taker.key]);
    await taker.release();
    await expect(prune(repo, { graceMs: 0 })).resolves.toMatchObject({ points: 1 });
  });

  it("an unreadable lock object counts as stale", async () => {
    const { store, repo } = await repoWithPoint();
    await store.put(`${LOCK_PREFIX}0000000007`, Buffer.from("{not json"));
    await expect(prune(repo, { graceMs: 0 })).resolves.toMatchObject({ points: 1 });
    expect(await lockKeys(store)).toEqual([]);
  });
});
