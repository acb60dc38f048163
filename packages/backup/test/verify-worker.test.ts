/**
 * Issue 4: the server does not take an agent's word for what a pack holds.
 * Real engine packs in Azurite, reported through the agent route, verified by
 * the real worker (pg-boss on the test's PostgreSQL) started with startWorker.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { schema, scopeToCustomer } from "@tidemark/db";
import { azuriteConnectionString } from "@tidemark/storage/testing";
import { backup } from "@tidemark/engine";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// By path: apps/worker is not a dependency of this package (the portal embeds the worker and injects the verifier).
import { enqueuePackVerification, type RunningWorker, startWorker } from "../../../apps/worker/src/index";
import { createBlobAccount, packVerifier, verifyReportedPack } from "../src";
import { Repository } from "../src/engine";
import { call, createWorld, enroll, type Enrolled, pointBody, type World } from "./fixtures";

type Entry = { id: string; type: 0 | 1; offset: number; length: number; rawLength: number };
type Report = { packId: string; size: number; salt: string; entries: Entry[] };

let w: World;
let m: Enrolled;
let dir: string;
let worker: RunningWorker | undefined;
const reported = new Set<string>();
const scope = () => ({ mspId: w.mspId, customerId: w.a1 });

beforeAll(async () => {
  w = await createWorld();
  m = await enroll(w, w.a1, "verify-srv");
  dir = await mkdtemp(join(tmpdir(), "tm-verify-src-"));
});
afterAll(async () => {
  await worker?.stop();
  await w?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function start(graceMs: number): Promise<RunningWorker> {
  const running = await startWorker({ database: w.database, packVerifier: packVerifier(w.svc, { graceMs }) });
  w.svc.onPackIndexed = (ref) => enqueuePackVerification(running.boss, ref);
  return running;
}

/** An engine backup of fresh random data into the customer's container; the reports an honest agent would send. */
async function backupNewData(name: string, bytes: number): Promise<Report[]> {
  await writeFile(join(dir, name), randomBytes(bytes));
  const repo = await Repository.open(w.svc.blobs.container(w.a1).store, { kek: w.svc.kek.key });
  try {
    await backup(repo, { paths: [join(dir, name)], workers: 0, host: "verify-srv" });
    const reports: Report[] = [];
    for (const info of repo.index.packs()) {
      if (reported.has(info.id)) continue;
      reported.add(info.id);
      const entries: Entry[] = [];
      for (const [id, e] of repo.index.entries()) {
        if (e.pack === info.id) entries.push({ id, type: e.type as 0 | 1, offset: e.offset, length: e.length, rawLength: e.rawLength });
      }
      reports.push({ packId: info.id, size: info.size, salt: info.salt.toString("base64"), entries });
    }
    return reports;
  } finally {
    await repo.close();
  }
}

async function report(r: Report) {
  const res = await call(w, "packs", { credential: m.credential, body: r });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function packState(packId: string) {
  const p = schema.packs;
  const [row] = await w.database.db
    .select({ state: p.verifyState, at: p.verifiedAt })
    .from(p)
    .where(and(scopeToCustomer(p, scope()), eq(p.packId, packId)));
  return row!;
}

async function settled(packIds: string[], timeoutMs = 30_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(packIds.map(async (id) => (await packState(id)).state));
    if (states.every((s) => s !== "pending") || Date.now() > deadline) return states;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function missing(ids: string[]): Promise<string[]> {
  const r = await call(w, "chunksMissing", { credential: m.credential, body: { ids } });
  expect(r.status).toBe(200);
  return r.body.missing;
}

async function events() {
  const e = schema.agentEvents;
  return w.database.db.select().from(e).where(and(scopeToCustomer(e, scope()), eq(e.kind, "pack.verification_failed")));
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

const dataPack = (reports: Report[]) => {
  const data = (r: Report) => r.entries.filter((e) => e.type === 0).length;
  const best = [...reports].sort((a, b) => data(b) - data(a))[0]!;
  expect(best.entries.filter((e) => e.type === 0).length).toBeGreaterThanOrEqual(2);
  return best;
};

describe("verify-pack worker job", () => {
  it("verifies a pack reported honestly and keeps every entry", async () => {
    worker = await start(60_000);
    const reports = await backupNewData("honest.bin", 3 * 1024 * 1024);
    for (const r of reports) await report(r);
    expect(await settled(reports.map((r) => r.packId))).toEqual(reports.map(() => "verified"));
    for (const r of reports) expect((await packState(r.packId)).at).toBeInstanceOf(Date);
    const ids = reports.flatMap((r) => r.entries.map((e) => e.id));
    expect(await missing(ids)).toEqual([]);
    expect(await events()).toEqual([]);
  });

  it("unindexes entries whose offset/length lie: chunks/missing names them and a point using them is refused", async () => {
    const reports = await backupNewData("lies.bin", 3 * 1024 * 1024);
    const target = dataPack(reports);
    const [first, second] = target.entries.filter((e) => e.type === 0);
    // A wrong offset (inside the pack, so the size and range checks of the route pass) and a short length.
    const lying = {
      ...target,
      entries: target.entries.map((e) => (e.id === first!.id ? { ...e, offset: e.offset + 16 } : e.id === second!.id ? { ...e, length: e.length - 1 } : e)),
    };
    for (const r of reports) await report(r === target ? lying : r);
    expect(await settled(reports.map((r) => r.packId))).toEqual(reports.map((r) => (r === target ? "bad" : "verified")));

    const ids = reports.flatMap((r) => r.entries.map((e) => e.id));
    expect((await missing(ids)).sort()).toEqual([first!.id, second!.id].sort());
    const c = schema.chunkIndex;
    const [{ n }] = (await w.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(c)
      .where(and(scopeToCustomer(c, scope()), eq(c.packId, target.packId)))) as [{ n: number }];
    expect(n).toBe(target.entries.length - 2);

    const [event] = await events();
    expect(event).toMatchObject({ machineId: m.machineId, level: "error", details: { packId: target.packId, removed: 2, checked: target.entries.length } });

    // The chunk check comes before the manifest check, so no manifest object is needed to see the refusal.
    const snapshotId = randomBytes(32).toString("hex");
    const tree = reports.flatMap((r) => r.entries).find((e) => e.type === 1)!;
    const point = await call(w, "points", { credential: m.credential, body: pointBody({ rootTree: tree.id, snapshotId, chunkIds: [first!.id] }) });
    expect(point.status).toBe(409);
    expect(point.body.error).toMatchObject({ code: "missing_chunks", missing: [first!.id] });
  });

  it("unindexes a chunk whose bytes were flipped in storage after upload, and only that chunk", async () => {
    const reports = await backupNewData("flipped.bin", 3 * 1024 * 1024);
    const target = dataPack(reports);
    const victim = target.entries.find((e) => e.type === 0)!;
    const { store } = w.svc.blobs.container(w.a1);
    const key = `data/${target.packId.slice(0, 2)}/${target.packId}`;
    const bytes = await store.get(key);
    bytes[victim.offset + 7] = bytes[victim.offset + 7]! ^ 0x01;
    await store.delete(key);
    await store.put(key, bytes);
    for (const r of reports) await report(r);
    expect(await settled([target.packId])).toEqual(["bad"]);
    const ids = target.entries.map((e) => e.id);
    expect(await missing(ids)).toEqual([victim.id]);
    const recorded = (await events()).find((e) => (e.details as { packId?: string }).packId === target.packId)!;
    expect(recorded.message).toContain("1 of");
    expect(String((recorded.details as { problems: string[] }).problems)).toContain("do not hash to the pack id");
    // A second run (the sweep racing the immediate job) changes nothing and records nothing.
    expect((await verifyReportedPack(w.svc, { ...scope(), packId: target.packId })).state).toBe("skipped");
    expect((await events()).filter((e) => (e.details as { packId?: string }).packId === target.packId)).toHaveLength(1);
  });

  it("a pack whose job was lost (enqueue failed, worker down) is picked up by the sweep", async () => {
    await worker!.stop();
    worker = undefined;
    const logged: string[] = [];
    w.svc.onPackIndexed = async () => {
      throw new Error("queue unavailable");
    };
    const prevLog = w.svc.log;
    w.svc.log = (msg) => void logged.push(msg);
    const reports = await backupNewData("lost.bin", 1024 * 1024);
    try {
      // The report itself succeeds: the pending state was committed with the index rows.
      for (const r of reports) await report(r);
    } finally {
      w.svc.log = prevLog;
    }
    expect(logged.join("\n")).toContain("the sweep will");
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await packState(reports[0]!.packId)).state).toBe("pending");
    // Storage unreachable is not a verdict on the agent: the job fails (pg-boss retries), nothing is unindexed.
    const unreachable = createBlobAccount({ connectionString: azuriteConnectionString(`http://127.0.0.1:${await closedPort()}/devstoreaccount1`) });
    await expect(verifyReportedPack({ ...w.svc, blobs: unreachable }, { ...scope(), packId: reports[0]!.packId })).rejects.toThrow();
    expect((await packState(reports[0]!.packId)).state).toBe("pending");
    expect(await missing(reports[0]!.entries.map((e) => e.id))).toEqual([]);
    // Two verifications of one pending pack at once: exactly one of them decides.
    const both = await Promise.all([0, 1].map(() => verifyReportedPack(w.svc, { ...scope(), packId: reports[0]!.packId })));
    expect(both.map((b) => b.state).sort()).toEqual(["skipped", "verified"]);
    // graceMs 0: the start-up sweep takes every pending pack.
    worker = await start(0);
    expect(await settled(reports.map((r) => r.packId))).toEqual(reports.map(() => "verified"));
  });
});
