import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalBlobStore, MemoryBlobStore } from "../src/index";
import { blobStoreContract } from "../src/testing/contract";

blobStoreContract("memory", async () => ({ store: new MemoryBlobStore(), cleanup: async () => {} }));

// fsync off only here: durability is not what the contract checks (test/local.test.ts runs with it).
// 2000 keys: a directory listing has no paging to exercise, and 5001 files cost 5–8 s on a busy 2-core box;
// the 5001-key case runs against memory and the memory stacks.
blobStoreContract(
  "local",
  async () => {
    const root = await mkdtemp(join(tmpdir(), "tidemark-contract-"));
    return { store: new LocalBlobStore({ root, fsync: false }), cleanup: () => rm(root, { recursive: true, force: true }) };
  },
  { manyKeys: 2000 },
);
