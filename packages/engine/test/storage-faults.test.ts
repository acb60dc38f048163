import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { AzureBlobStore, MemoryBlobStore, withFaults, withRetry } from "@tidemark/storage";
import { seededRandom, startAzurite } from "@tidemark/storage/testing";
import { backup } from "../src/backup/backup";
import { check } from "../src/check";
import { restore } from "../src/restore/restore";
import { Repository } from "../src/repository";
import { PASSWORD, TEST_INIT, tempDir } from "./helpers";
import { describeTree, makeCorpus } from "./fs-helpers";

async function roundTrip(store: import("@tidemark/storage").BlobStore) {
  const src = await tempDir();
  const out = await tempDir();
  try {
    await makeCorpus(src.dir);
    await Repository.init(store, PASSWORD, TEST_INIT);
    const repo = await Repository.open(store, PASSWORD);
    const p = await backup(repo, { paths: [src.dir] });
    const fresh = await Repository.open(store, PASSWORD);
    const c = await check(fresh, { readData: true });
    const res = await restore(fresh, await fresh.resolveSnapshot(p.id), { target: out.dir });
    return { check: c, failures: res.failures, same: JSON.stringify(await describeTree(join(out.dir, src.dir))) === JSON.stringify(await describeTree(src.dir)) };
  } finally {
    await src.cleanup();
    await out.cleanup();
  }
}

describe("storage faults", () => {
  it("503s, lost replies and hung calls are retried: backup, check and restore come out exact", async () => {
    const base = new MemoryBlobStore();
    let faultsSeen = 0;
    const faulty = withFaults(
      base,
      [
        { op: "*", fail: "transient", probability: 0.15, times: Infinity },
        // The write happened but the reply was lost: create-only puts must not fail the backup.
        { op: "put", fail: "transient", failWhen: "after", probability: 0.1, times: Infinity },
        { op: "get", hang: true, probability: 0.05, times: Infinity },
      ],
      { random: seededRandom(42), sleep: async () => {} },
    );
    const store = withRetry(faulty, { retries: 12, baseDelayMs: 1, maxDelayMs: 2, attemptTimeoutMs: 200, onRetry: () => faultsSeen++ });
    const r = await roundTrip(store);
    expect(faultsSeen).toBeGreaterThan(5);
    expect(r.check.errors).toEqual([]);
    expect(r.failures).toEqual([]);
    expect(r.same).toBe(true);
  });

  it("works against Azure Blob (in-process Azurite)", async () => {
    const az = await startAzurite({ inMemory: true });
    try {
      const store = new AzureBlobStore({ connectionString: az.connectionString, container: "engine-test" });
      await store.ensureContainer();
      const r = await roundTrip(store);
      expect(r.check.errors).toEqual([]);
      expect(r.check.packsRead).toBeGreaterThan(0);
      expect(r.failures).toEqual([]);
      expect(r.same).toBe(true);
    } finally {
      await az.stop();
    }
  });
});
