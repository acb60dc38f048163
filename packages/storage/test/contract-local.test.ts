import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalBlobStore, MemoryBlobStore } from "../src/index";
import { blobStoreContract } from "../src/testing/contract";

blobStoreContract("memory", async () => ({ store: new MemoryBlobStore(), cleanup: async () => {} }));

// fsync off only here: durability is not what the contract checks, and 5000 fsyncs cost seconds.
blobStoreContract("local", async () => {
  const root = await mkdtemp(join(tmpdir(), "tidemark-contract-"));
  return { store: new LocalBlobStore({ root, fsync: false }), cleanup: () => rm(root, { recursive: true, force: true }) };
});
