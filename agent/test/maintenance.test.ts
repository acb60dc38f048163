import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { backup, Repository, restore } from "../src/engine";
import { maintainSpool } from "../src/maintenance";
import { UploadQueue } from "../src/queue";
import { openSpool } from "../src/spool";
import { spoolMachine } from "./helpers";

const dirs: string[] = [];
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), "tm-agent-maint-"));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++;
  return n;
}

describe("spool maintenance", () => {
  it("trims tree packs no kept point needs and merges index objects; the kept point still restores and parents the next one", async () => {
    const root = await tmp();
    const src = join(root, "src");
    await mkdir(join(src, "a", "b"), { recursive: true });
    const machine = spoolMachine();
    const queue = new UploadQueue(join(root, "queue"));
    await queue.ensure();
    const { repo, store } = await openSpool(join(root, "spool"), machine, queue);
    let last: string | undefined;
    for (let i = 0; i < 6; i++) {
      await writeFile(join(src, "a", "b", `f${i}.txt`), `version ${i} ${randomBytes(8).toString("hex")}`);
      await writeFile(join(src, "top.txt"), `top ${i}`);
      last = (await backup(repo, { paths: [src], host: "m", parent: last ?? "none", workers: 0 })).id;
    }
    const packsBefore = await countFiles(join(root, "spool", "data"));
    const indexBefore = await countFiles(join(root, "spool", "index"));
    expect(indexBefore).toBe(6);
    // Data packs stand for "still queued for upload" here (the uploader trims them after upload).
    const dataPacks = new Set([...repo.index.entries()].filter(([, e]) => e.type === 0).map(([, e]) => e.pack));
    const r = await maintainSpool(repo, store, [last!], dataPacks, { mergeAbove: 2 });
    expect(r.treePacksDeleted).toBeGreaterThan(0);
    expect(await countFiles(join(root, "spool", "data"))).toBe(packsBefore - r.treePacksDeleted);
    expect(r.indexObjectsMerged).toBe(6);
    expect(await countFiles(join(root, "spool", "index"))).toBe(1);

    // A fresh open (a restarted agent) sees the same index and restores the kept point byte-identical.
    await repo.close();
    const again = await Repository.open(store, { kek: Buffer.from(machine.spoolKek, "base64") });
    const target = join(root, "restored");
    const res = await restore(again, { id: last!, snapshot: await again.loadSnapshot(last!) }, { target });
    expect(res.failures, JSON.stringify(res.failures)).toEqual([]);
    expect(await readFile(join(target, src, "a", "b", "f5.txt"), "utf8")).toBe(await readFile(join(src, "a", "b", "f5.txt"), "utf8"));
    // And it still parents the next point: unchanged files are not read again.
    await writeFile(join(src, "new.txt"), "n");
    const next = await backup(again, { paths: [src], host: "m", parent: last!, workers: 0 });
    expect(next.snapshot.stats.readBytes).toBe(1);
    await again.close();
  });
});
