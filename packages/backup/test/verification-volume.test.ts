/**
 * Restore tests of volume images: a real ext4 image captured by the engine's
 * volume backup into Azurite, restored by the worker's restore test through
 * the PostgreSQL index, and checked with `e2fsck -fn`; an image whose
 * filesystem is broken (its blocks intact) fails the test on the fs check.
 */
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { schema } from "@tidemark/db";
import { backup, backupVolumes } from "@tidemark/engine";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { affectedPoints, type AlertSink, ensureCustomerRepository, openCustomerRepo, PgIndex, type RaisedAlert, runRestoreTest } from "../src";
import { type BlobType, type IndexedPack, loadVolumeMap, Repository } from "../src/engine";
import { pgRepository } from "../src/verification/pg-repository";
import { createWorld, type World } from "./fixtures";

const MKFS = "/usr/sbin/mkfs.ext4";
let w: World;
let dir: string;
let machineId: string;
const raised: RaisedAlert[] = [];
const alerts: AlertSink = { raise: async (a) => void raised.push(a), resolve: async () => undefined };
const scope = () => ({ mspId: w.mspId, customerId: w.a1 });
let haveMkfs = true;
let goodPoint = "";

/** What an agent does for a point with a volume: engine volume + file backup, packs indexed, point committed. */
async function pointWithVolume(image: string, files: string): Promise<string> {
  const repo = await Repository.open(w.svc.blobs.container(w.a1).store, { kek: w.svc.kek.key });
  try {
    const volumes = await backupVolumes(repo, [image], { host: "vol-host" });
    const r = await backup(repo, { paths: [files], volumes, workers: 0, host: "vol-host" });
    const byPack = new Map<string, IndexedPack>();
    for (const info of repo.index.packs()) byPack.set(info.id, { ...info, blobs: [] });
    for (const [id, e] of repo.index.entries()) byPack.get(e.pack)!.blobs.push({ id: Buffer.from(id, "hex"), type: e.type as BlobType, offset: e.offset, length: e.length, rawLength: e.rawLength });
    const index = new PgIndex(w.database.db, scope(), { uploadedByMachineId: machineId });
    index.addPacks([...byPack.values()]);
    await index.flush();
    const s = r.snapshot;
    const [row] = await w.database.db
      .insert(schema.recoveryPoints)
      .values({ ...scope(), machineId, clientPointId: randomUUID(), snapshotId: r.id, manifest: { rootTree: s.tree, volumes: s.volumes, time: s.time }, time: new Date(), consistency: "crash" })
      .returning();
    return row!.id;
  } finally {
    await repo.close();
  }
}

beforeAll(async () => {
  w = await createWorld();
  dir = await mkdtemp(join(tmpdir(), "tm-verify-vol-"));
  const [m] = await w.database.db.insert(schema.machines).values({ ...scope(), name: "VOL-01", os: "linux" }).returning();
  machineId = m!.id;
  await w.database.db.transaction((tx) => ensureCustomerRepository(tx as never, w.svc.kek, w.svc.blobs, scope()));
  await mkdir(join(dir, "files"), { recursive: true });
  await writeFile(join(dir, "files", "readme.txt"), "volume test\n");
  await writeFile(join(dir, "good.img"), Buffer.alloc(16 * 1024 * 1024));
  try {
    execFileSync(MKFS, ["-q", "-F", join(dir, "good.img")]);
  } catch {
    haveMkfs = false;
  }
});
afterAll(async () => {
  await w?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("restore tests of volume images", () => {
  it("restores an ext4 image block by block and e2fsck -fn passes it", async (ctx) => {
    if (!haveMkfs) ctx.skip();
    const pointId = (goodPoint = await pointWithVolume(join(dir, "good.img"), join(dir, "files")));
    const repo = (await openCustomerRepo({ ...w.svc, alerts }, scope()))!;
    const t = await runRestoreTest(repo, machineId, { trigger: "manual", pointId, scratchRoot: dir });
    expect(t).toMatchObject({ state: "passed", findings: [] });
    expect(t!.fsChecks).toEqual([expect.objectContaining({ volume: "good.img", tool: "e2fsck -fn", ok: true })]);
    expect(t!.files).toBe(2);
    expect(t!.bytes).toBe(16 * 1024 * 1024 + "volume test\n".length);
    // Scratch smaller than the image: its blocks are verified without writing it; no filesystem check.
    const small = await runRestoreTest(repo, machineId, { trigger: "manual", pointId, scratchRoot: dir, scratchFree: async () => 1024 });
    expect(small).toMatchObject({ state: "passed", files: 2, fsChecks: [] });
    expect(small!.findings.map((f) => f.path ?? "")).toEqual(["", "[volume image] good.img"]);
  });

  it("a bad block chunk makes the volume image an affected 'file' of the point", async (ctx) => {
    if (!haveMkfs) ctx.skip();
    const repo = (await openCustomerRepo({ ...w.svc, alerts }, scope()))!;
    const [p] = await w.database.db.select().from(schema.recoveryPoints).where(eq(schema.recoveryPoints.id, goodPoint));
    const vol = (p!.manifest as { volumes: Array<{ map: string }> }).volumes[0]!;
    const { repository } = pgRepository(repo);
    const blocks = (await loadVolumeMap(repository, vol.map)).flatMap((b) => (b.id ? [b.id] : []));
    expect(blocks.length).toBeGreaterThan(0);
    const found = await affectedPoints(repo, new Set([blocks[0]!]));
    expect(found.find((x) => x.pointId === goodPoint)).toMatchObject({ files: ["[volume image] good.img"], chunkIds: [blocks[0]] });
  });

  it("an image whose filesystem is broken fails the test on the filesystem check and alerts", async (ctx) => {
    if (!haveMkfs) ctx.skip();
    const broken = join(dir, "broken.img");
    await copyFile(join(dir, "good.img"), broken);
    const fh = await open(broken, "r+");
    await fh.write(Buffer.alloc(512 * 1024, 0xaa), 0, 512 * 1024, 4096);
    await fh.close();
    const pointId = await pointWithVolume(broken, join(dir, "files"));
    const repo = (await openCustomerRepo({ ...w.svc, alerts }, scope()))!;
    const t = await runRestoreTest(repo, machineId, { trigger: "manual", pointId, scratchRoot: dir });
    expect(t!.state).toBe("failed");
    expect(t!.fsChecks[0]).toMatchObject({ volume: "broken.img", ok: false });
    expect(t!.findings[0]!.problem).toMatch(/e2fsck -fn found problems/);
    expect(raised.map((a) => a.condition)).toEqual(["restore_test_failed"]);
  });
});
