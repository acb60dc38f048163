import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { backup } from "../src/backup/backup";
import { restore } from "../src/restore/restore";
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
});
