import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cancelRestoreJob,
  createRestoreJob,
  customerStorage,
  getRecoveryPoint,
  listAgentEvents,
  listRecoveryPoints,
  listRestoreJobs,
  machineProtection,
  revokeMachine,
  rpoState,
} from "../src";
import { call, chunkId, createWorld, enroll, type Enrolled, heartbeatBody, packReport, pointBody, putPack, putSnapshot, type World } from "./fixtures";

let w: World;
let m: Enrolled;
let pointId: string;
let jobId: string;
const a1 = () => ({ mspId: w.mspId, customerId: w.a1 });
const a2 = () => ({ mspId: w.mspId, customerId: w.a2 });
const msp = () => ({ mspId: w.mspId });

beforeAll(async () => {
  w = await createWorld();
  m = await enroll(w, w.a1, "portal-srv");
  await enroll(w, w.a2, "other-srv");
  await call(w, "heartbeat", { credential: m.credential, body: heartbeatBody });
  const pack = await putPack(w, w.a1, 5000);
  const tree = chunkId();
  await call(w, "packs", { credential: m.credential, body: packReport(pack, [tree]) });
  const body = pointBody({ rootTree: tree, snapshotId: await putSnapshot(w, w.a1) });
  body.manifest.stats.bytes = 15_000;
  pointId = (await call(w, "points", { credential: m.credential, body })).body.pointId;
  await call(w, "events", { credential: m.credential, body: { events: [{ time: new Date().toISOString(), level: "error", kind: "vss-failed", message: "VSS timed out" }] } });
  jobId = (
    await w.database.db.transaction((tx) =>
      createRestoreJob(tx as never, a1(), { machineId: m.machineId, recoveryPointId: pointId, paths: [], destination: { kind: "original" }, conflict: "overwrite" }),
    )
  ).id;
});
afterAll(async () => {
  await w?.stop();
});

describe("portal reads", () => {
  it("lists points, machine protection and storage for the customer and for the MSP", async () => {
    for (const scope of [a1(), msp()]) {
      const points = await listRecoveryPoints(w.database.db, scope, m.machineId);
      expect(points.map((p) => p.id)).toEqual([pointId]);
      expect((await getRecoveryPoint(w.database.db, scope, pointId)).machineId).toBe(m.machineId);
      const [machine] = await machineProtection(w.database.db, scope, w.a1);
      expect(machine).toMatchObject({ id: m.machineId, online: true, revoked: false, rpo: "ok", rpoSeconds: 60, protectedBytes: 15_000, hostname: heartbeatBody.hostname });
      const storage = await customerStorage(w.database.db, scope, w.a1);
      expect(storage).toMatchObject({ storedBytes: 5000, packs: 1, protectedBytes: 15_000, recoveryPoints: 1, dedupRatio: 3 });
      expect((await listAgentEvents(w.database.db, scope, { machineId: m.machineId, level: "error" })).map((e) => e.kind)).toEqual(["vss-failed"]);
      expect((await listRestoreJobs(w.database.db, scope, { customerId: w.a1 })).map((j) => j.id)).toContain(jobId);
    }
  });

  it("another customer's scope sees none of it", async () => {
    expect(await listRecoveryPoints(w.database.db, a2(), m.machineId)).toEqual([]);
    await expect(getRecoveryPoint(w.database.db, a2(), pointId)).rejects.toThrow(/not found/);
    expect(await machineProtection(w.database.db, a2(), w.a1)).toEqual([]);
    expect(await customerStorage(w.database.db, a2(), w.a1)).toMatchObject({ storedBytes: 0, recoveryPoints: 0, dedupRatio: null });
    expect(await listAgentEvents(w.database.db, a2(), { machineId: m.machineId })).toEqual([]);
    expect(await listRestoreJobs(w.database.db, a2(), { customerId: w.a1 })).toEqual([]);
    await expect(cancelRestoreJob(w.database.db, a2(), jobId)).rejects.toThrow(/not found/);
    await expect(
      w.database.db.transaction((tx) => createRestoreJob(tx as never, a2(), { machineId: m.machineId, recoveryPointId: pointId, paths: [], destination: { kind: "original" }, conflict: "skip" })),
    ).rejects.toThrow(/not found/);
    // A scope of another MSP sees nothing either.
    expect(await listRecoveryPoints(w.database.db, { mspId: randomUUID() }, m.machineId)).toEqual([]);
  });

  it("a cancelled job is no longer handed out and a running agent is told to stop", async () => {
    expect((await call(w, "nextRestoreJob", { credential: m.credential })).body.job.id).toBe(jobId);
    await cancelRestoreJob(w.database.db, a1(), jobId);
    const r = await call(w, "restoreProgress", { credential: m.credential, params: { id: jobId }, body: { bytesDone: 1, filesDone: 1, bytesTotal: 2, filesTotal: 2 } });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("job_cancelled");
    expect((await call(w, "nextRestoreJob", { credential: m.credential })).body.job).toBeNull();
    await expect(cancelRestoreJob(w.database.db, a1(), jobId)).rejects.toThrow(/already cancelled/);
  });

  it("rpo state and revocation show up", async () => {
    const now = new Date("2026-01-01T00:10:00Z");
    expect(rpoState(null, 60, now)).toBe("none");
    expect(rpoState(new Date("2026-01-01T00:09:30Z"), 60, now)).toBe("ok");
    expect(rpoState(new Date("2026-01-01T00:08:00Z"), 60, now)).toBe("late");
    expect(rpoState(new Date("2026-01-01T00:00:00Z"), 60, now)).toBe("missed");
    // An idle machine (online, nothing pending) is protected however old its last point is.
    expect(rpoState(new Date("2026-01-01T00:00:00Z"), 60, now, true)).toBe("ok");
    expect(rpoState(null, 60, now, true)).toBe("none");
    await revokeMachine(w.database.db, a1(), m.machineId);
    const [machine] = await machineProtection(w.database.db, a1(), w.a1);
    expect(machine).toMatchObject({ revoked: true, online: false });
  });
});
