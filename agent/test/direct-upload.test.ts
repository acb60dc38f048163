/**
 * Direct uploads: while online, the packs the engine seals go to the customer's container from
 * the engine's own buffer (no spool write); a failure or a hang spools them instead and turns
 * direct sends off until the spool has drained. Real engine and spool, an in-memory container
 * behind fault injection, and an agent API stand-in that keeps the server's index.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { commitChunkIds, packReportEntries, type CommitPointRequest, type PackReport } from "@tidemark/agent-protocol";
import { memoryStore, withFaults } from "@tidemark/storage";
import { backup, packIdFromKeyName, type Repository } from "../src/engine";
import { UploadQueue } from "../src/queue";
import { openSpool } from "../src/spool";
import { Uploader, type UploadTarget } from "../src/uploader";
import { spoolMachine } from "./helpers";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function files(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch {
    return [];
  }
}

async function world(opts: { deadlineMs?: number } = {}) {
  const root = await mkdtemp(join(tmpdir(), "tm-agent-direct-"));
  dirs.push(root);
  const src = join(root, "src");
  await mkdir(src, { recursive: true });
  // 256 KiB packs: a few hundred KiB of random data make several data packs.
  const machine = spoolMachine({ chunker: { min: 16384, avg: 32768, max: 65536 }, packSize: 256 * 1024 });
  const queue = new UploadQueue(join(root, "queue"));
  await queue.ensure();
  const spool = await openSpool(join(root, "spool"), machine, queue);
  const container = withFaults(memoryStore());
  // The server's index and what it was told.
  const indexed = new Set<string>();
  const reports: PackReport[] = [];
  const commits: CommitPointRequest[] = [];
  const api = {
    missingChunks: async (ids: string[]) => ids.filter((id) => !indexed.has(id)),
    reportPack: async (r: PackReport) => {
      reports.push(r);
      for (const e of packReportEntries(r)) indexed.add(e.id);
      return { ok: true };
    },
    commitPoint: async (r: CommitPointRequest) => {
      commits.push(r);
      const missing = commitChunkIds(r).filter((id) => !indexed.has(id));
      if (missing.length) throw new Error(`not indexed: ${missing.join(",")}`);
      return { pointId: randomUUID() };
    },
  };
  let invalidated = 0;
  const target = { store: async () => container, invalidate: () => invalidated++ } as unknown as UploadTarget;
  const log: string[] = [];
  const uploader = new Uploader(spool.repo, spool.store, queue, api as never, target, { log: (l) => log.push(l) }, opts.deadlineMs === undefined ? {} : { directDeadlineMs: opts.deadlineMs });
  spool.setDirect(uploader);
  /** One capture cycle as capture.ts runs it: back up, hand the direct ids to the point, queue it. */
  const point = async (repo: Repository = spool.repo, parent = "none") => {
    const r = await backup(repo, { paths: [src], host: "m", parent, workers: 0 });
    uploader.pointQueued(r.id);
    await queue.push({ kind: "point", clientPointId: randomUUID(), snapshotId: r.id });
    return r;
  };
  const spooledPacks = async () => (await files(join(root, "spool", "data"))).filter((n) => packIdFromKeyName(`data/${n.slice(0, 2)}/${n}`));
  const queuedPacks = async () => (await queue.list()).filter((i) => i.item.kind === "pack").length;
  const containerPacks = async () => {
    const out: string[] = [];
    for await (const m of container.list("data/")) out.push(m.key);
    return out;
  };
  return { root, src, spool, queue, container, uploader, api, indexed, reports, commits, point, spooledPacks, queuedPacks, containerPacks, log, invalidated: () => invalidated };
}

/** Every id the point's trees and files need is indexed on the "server" and listed by its commit. */
function dataIds(w: Awaited<ReturnType<typeof world>>) {
  return [...w.spool.repo.index.entries()].filter(([, e]) => e.type === 0).map(([id]) => id);
}

describe("direct uploads (online: no spool write)", () => {
  it("sends every pack from the engine's buffer: nothing queued, only tree packs kept in the spool; the commit lists every new chunk", async () => {
    const w = await world();
    for (let i = 0; i < 4; i++) await writeFile(join(w.src, `f${i}.bin`), randomBytes(200_000));
    const r = await w.point();
    expect(await w.queuedPacks()).toBe(0);
    const sent = await w.containerPacks();
    expect(sent.length).toBeGreaterThanOrEqual(4);
    expect(w.reports.length).toBe(sent.length);
    // Data packs are not in the spool; the tree pack is (the next point's parent reuse reads it).
    const spooled = await w.spooledPacks();
    expect(spooled.length).toBe(1);
    expect(sent.map((k) => k.split("/").pop())).toContain(spooled[0]);
    expect(w.log.filter((l) => / \(direct\): /.test(l)).length).toBe(sent.length);

    expect(await w.uploader.drain()).toBe(1);
    expect(w.commits).toHaveLength(1);
    const listed = new Set(commitChunkIds(w.commits[0]!));
    for (const id of dataIds(w)) expect(listed.has(id), id).toBe(true);
    expect(listed.has(r.snapshot.tree)).toBe(true);
  });

  it("a failed put spools that pack and every later one (no more direct tries) until a drain empties the spool; then direct again", async () => {
    const w = await world();
    for (let i = 0; i < 4; i++) await writeFile(join(w.src, `f${i}.bin`), randomBytes(200_000));
    w.container.add({ op: "put", keyPrefix: "data/", times: Infinity, fail: "permanent" });
    const first = await w.point();
    const tried = w.container.calls.put;
    expect(w.log.filter((l) => /direct upload failed/.test(l))).toHaveLength(1);
    // One failed pack (plus the target's own retries); the rest went to the spool without trying.
    expect(w.container.injected.put).toBeLessThanOrEqual(3);
    expect(await w.queuedPacks()).toBeGreaterThanOrEqual(4);
    expect(w.reports).toHaveLength(0);
    expect(w.invalidated()).toBe(1);

    w.container.clear();
    await w.uploader.drain();
    expect(w.commits).toHaveLength(1);
    expect(await w.queuedPacks()).toBe(0);
    expect(w.container.calls.put).toBeGreaterThan(tried);
    const listed = new Set(commitChunkIds(w.commits[0]!));
    for (const id of dataIds(w)) expect(listed.has(id), id).toBe(true);

    // Back online: the next point's packs go straight up again.
    const reportsBefore = w.reports.length;
    await writeFile(join(w.src, "later.bin"), randomBytes(300_000));
    await w.point(w.spool.repo, first.id);
    expect(await w.queuedPacks()).toBe(0);
    expect(w.reports.length).toBeGreaterThan(reportsBefore);
    await w.uploader.drain();
    expect(w.commits).toHaveLength(2);
    expect(w.indexed.size).toBeGreaterThan(0);
    for (const id of dataIds(w)) expect(w.indexed.has(id), id).toBe(true);
  });

  it("a put that hangs is aborted at the deadline and the pack spooled: capture finishes, the point commits once the container answers", async () => {
    const w = await world({ deadlineMs: 300 });
    await writeFile(join(w.src, "a.bin"), randomBytes(400_000));
    w.container.add({ op: "put", keyPrefix: "data/", times: 1, hang: true });
    const t0 = Date.now();
    await w.point();
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(w.log.some((l) => /direct upload failed \(direct upload still running after 0.3 s\)/.test(l))).toBe(true);
    expect(await w.queuedPacks()).toBeGreaterThanOrEqual(1);
    await w.uploader.drain();
    expect(w.commits).toHaveLength(1);
    for (const id of dataIds(w)) expect(w.indexed.has(id), id).toBe(true);
    // Every stored pack is whole: what the container holds hashes to its name.
    const { createHash } = await import("node:crypto");
    for (const k of await w.containerPacks()) expect(createHash("sha256").update(await w.container.get(k)).digest("hex")).toBe(k.split("/").pop());
  });
});
