import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ForwardingBlobStore,
  LocalBlobStore,
  MemoryBlobStore,
  seededRandom,
  withConcurrencyLimit,
  withFaults,
  withMetrics,
  withRetry,
  type FaultRule,
} from "../src/index";
import { blobStoreContract } from "../src/testing/contract";

const instant = async () => {};

/** 15% of calls fail before reaching the store, 10% after it did the work (lost reply). */
const storm = (): FaultRule[] => [
  { op: "*", times: Infinity, probability: 0.15, fail: "transient" },
  { op: "*", times: Infinity, probability: 0.1, fail: "transient", failWhen: "after" },
];

blobStoreContract("retry(faults(memory, 503 storm))", async () => {
  const faulty = withFaults(new MemoryBlobStore(), storm(), { random: seededRandom(1) });
  const store = withRetry(faulty, { retries: 12, baseDelayMs: 1, maxDelayMs: 50, sleep: instant, random: seededRandom(2) });
  return { store, cleanup: async () => {} };
});

blobStoreContract("limit(metrics(retry(faults(memory)))), limit 3", async () => {
  const faulty = withFaults(new MemoryBlobStore(), storm(), { random: seededRandom(3) });
  const retried = withRetry(faulty, { retries: 12, baseDelayMs: 1, maxDelayMs: 50, sleep: instant, random: seededRandom(4) });
  return { store: withConcurrencyLimit(withMetrics(retried), 3), cleanup: async () => {} };
});

blobStoreContract("metrics(limit(local)), limit 4", async () => {
  const root = await mkdtemp(join(tmpdir(), "tidemark-stack-"));
  const store = withMetrics(withConcurrencyLimit(new LocalBlobStore({ root, fsync: false }), 4));
  return { store, cleanup: () => rm(root, { recursive: true, force: true }) };
}, { manyKeys: 1000 });

// The base of the read-only view and the agent's journaling spool must forward every operation intact.
blobStoreContract("forwarding(local)", async () => {
  const root = await mkdtemp(join(tmpdir(), "tidemark-fwd-"));
  const store = new ForwardingBlobStore(new LocalBlobStore({ root, fsync: false }));
  return { store, cleanup: () => rm(root, { recursive: true, force: true }) };
});
