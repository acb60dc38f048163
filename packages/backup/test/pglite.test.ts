/**
 * The embedded portal runs on PGlite: enrolment (advisory lock, repository
 * init), the index's ANY(array) lookups, point commits, the restore claim
 * (FOR UPDATE SKIP LOCKED) and the portal reads must work there too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cancelRestoreJob, createRestoreJob, customerStorage, machineProtection } from "../src";
import { call, chunkId, createWorld, enroll, heartbeatBody, packReport, pointBody, putPack, putSnapshot, type World } from "./fixtures";

let w: World;
beforeAll(async () => {
  w = await createWorld({ pglite: true });
});
afterAll(async () => {
  await w?.stop();
});

describe("agent API on PGlite", () => {
  it("runs the whole machine flow", async () => {
    expect(w.database.kind).toBe("pglite");
    const m = await enroll(w, w.a1, "lite-01");
    const again = await enroll(w, w.a1, "lite-01");
    expect(again.machineId).toBe(m.machineId);
    expect(again.dataKey).toBe(m.dataKey);
    const cred = again.credential;
    expect((await call(w, "heartbeat", { credential: cred, body: heartbeatBody })).status).toBe(200);
    expect((await call(w, "heartbeat", { credential: m.credential, body: heartbeatBody })).status).toBe(401);

    const ids = [chunkId(), chunkId()];
    expect((await call(w, "chunksMissing", { credential: cred, body: { ids } })).body.missing.sort()).toEqual([...ids].sort());
    const snapshotId = await putSnapshot(w, w.a1);
    const body = pointBody({ rootTree: ids[0]!, snapshotId, chunkIds: [ids[1]!] });
    expect((await call(w, "points", { credential: cred, body })).status).toBe(409);
    const pack = await putPack(w, w.a1, 2048);
    expect((await call(w, "packs", { credential: cred, body: packReport(pack, ids) })).status).toBe(200);
    expect((await call(w, "packs", { credential: cred, body: packReport(pack, ids) })).status).toBe(200);
    expect((await call(w, "chunksMissing", { credential: cred, body: { ids } })).body.missing).toEqual([]);
    const point = await call(w, "points", { credential: cred, body });
    expect(point.status).toBe(201);
    expect((await call(w, "points", { credential: cred, body })).body.pointId).toBe(point.body.pointId);

    const scope = { mspId: w.mspId, customerId: w.a1 };
    const job = await w.database.db.transaction((tx) =>
      createRestoreJob(tx as never, scope, { machineId: m.machineId, recoveryPointId: point.body.pointId, paths: [], destination: { kind: "original" }, conflict: "skip" }),
    );
    expect((await call(w, "nextRestoreJob", { credential: cred })).body.job.id).toBe(job.id);
    expect((await call(w, "restoreResult", { credential: cred, params: { id: job.id }, body: { ok: false, restoredFiles: 0, failed: [{ path: "/x", error: "EIO" }] } })).status).toBe(200);
    await expect(cancelRestoreJob(w.database.db, scope, job.id)).rejects.toThrow(/already failed/);

    const [row] = await machineProtection(w.database.db, scope, w.a1);
    expect(row).toMatchObject({ id: m.machineId, online: true, rpo: "ok" });
    expect((await customerStorage(w.database.db, scope, w.a1)).storedBytes).toBe(2048);
    const other = await enroll(w, w.a2, "lite-02");
    expect((await call(w, "chunksMissing", { credential: other.credential, body: { ids } })).body.missing.sort()).toEqual([...ids].sort());
  });
});
