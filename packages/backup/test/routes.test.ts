import { randomBytes, randomUUID } from "node:crypto";
import { ContainerClient } from "@azure/storage-blob";
import { packColumns, routes } from "@tidemark/agent-protocol";
import { schema } from "@tidemark/db";
import { AzureBlobStore } from "@tidemark/storage";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRestoreJob, revokeMachine } from "../src";
import type { AgentRouteName } from "../src/http";
import {
  call,
  chunkId,
  createWorld,
  enroll,
  type Enrolled,
  heartbeatBody,
  packReport,
  pointBody,
  putPack,
  putSnapshot,
  type World,
} from "./fixtures";

let w: World;
let m1: Enrolled;
beforeAll(async () => {
  w = await createWorld();
  m1 = await enroll(w, w.a1, "fs-01");
});
afterAll(async () => {
  await w?.stop();
});

const restoreJobFor = async (machine: Enrolled, customerId: string) => {
  const pack = await putPack(w, customerId);
  const tree = chunkId();
  expect((await call(w, "packs", { credential: machine.credential, body: packReport(pack, [tree]) })).status).toBe(200);
  const snap = await putSnapshot(w, customerId);
  const point = await call(w, "points", { credential: machine.credential, body: pointBody({ rootTree: tree, snapshotId: snap }) });
  expect(point.status).toBe(201);
  const job = await w.database.db.transaction((tx) =>
    createRestoreJob(tx as never, { mspId: w.mspId, customerId }, {
      machineId: machine.machineId,
      recoveryPointId: point.body.pointId,
      paths: ["/data/a.txt"],
      destination: { kind: "folder", path: "/restore" },
      conflict: "keep-both",
    }),
  );
  return { job, pointId: point.body.pointId as string, snapshotId: snap, tree };
};

/** A valid body for every authenticated route, so only the credential decides the outcome. */
const validBodies = (): Partial<Record<AgentRouteName, unknown>> => ({
  heartbeat: heartbeatBody,
  chunksMissing: { ids: [chunkId()] },
  packs: packReport({ packId: chunkId(), size: 4096 }, [chunkId()]),
  points: pointBody({ rootTree: chunkId(), snapshotId: chunkId() }),
  restoreProgress: { bytesDone: 1, filesDone: 1, bytesTotal: 2, filesTotal: 2 },
  restoreResult: { ok: true, restoredFiles: 1, failed: [] },
  events: { events: [{ time: new Date().toISOString(), level: "info", kind: "started", message: "hi" }] },
});
const authed = (Object.keys(routes) as AgentRouteName[]).filter((r) => routes[r].auth);

describe("machine credential", () => {
  it("covers every authenticated route of the protocol", () => {
    expect(authed.sort()).toEqual(
      ["chunksMissing", "events", "heartbeat", "nextRestoreJob", "packs", "points", "policy", "restoreProgress", "restoreResult", "uploadSession"].sort(),
    );
  });

  const forgeries = (): Array<[string, { authorization?: string; credential?: string }]> => [
    ["no header", {}],
    ["not a bearer", { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` }],
    ["malformed", { authorization: "Bearer tmm_nope" }],
    ["wrong secret", { credential: `tmm_${m1.machineId}.${randomBytes(32).toString("base64url")}` }],
    ["unknown machine", { credential: `tmm_${randomUUID()}.${m1.machineSecret}` }],
    ["secret of another machine", { credential: `tmm_${m1.machineId}.${randomBytes(33).toString("base64url")}` }],
  ];

  it.each(authed)("%s refuses forged credentials with 401", async (route) => {
    for (const [label, cred] of forgeries()) {
      const r = await call(w, route, { ...cred, body: validBodies()[route], params: { id: randomUUID() } });
      expect(r.status, `${route} / ${label}`).toBe(401);
      expect(r.body.error.code).toBe("invalid_credential");
      expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
  });

  it.each(authed)("%s refuses a revoked machine", async (route) => {
    const victim = await enroll(w, w.a1, `revoked-${route}`);
    expect((await call(w, "heartbeat", { credential: victim.credential, body: heartbeatBody })).status).toBe(200);
    await revokeMachine(w.database.db, { mspId: w.mspId, customerId: w.a1 }, victim.machineId);
    const r = await call(w, route, { credential: victim.credential, body: validBodies()[route], params: { id: randomUUID() } });
    expect(r.status).toBe(401);
  });

  it("a revoked machine whose secret still matches is told it was revoked (403)", async () => {
    const victim = await enroll(w, w.a1, "revoked-flag-only");
    await w.database.db.update(schema.machineAgents).set({ revokedAt: new Date() }).where(eq(schema.machineAgents.machineId, victim.machineId));
    const r = await call(w, "heartbeat", { credential: victim.credential, body: heartbeatBody });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("machine_revoked");
  });

  it("rate-limits per machine with 429 and Retry-After", async () => {
    const limited = await createWorld({ limiter: { capacity: 3, refillPerSecond: 0.01 } });
    try {
      const m = await enroll(limited, limited.a1);
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await call(limited, "policy", { credential: m.credential })).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const r = await call(limited, "policy", { credential: m.credential });
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(r.body.error.code).toBe("rate_limited");
      // Another machine has its own bucket, and forged requests naming it cannot drain it.
      const other = await enroll(limited, limited.a1, "other");
      const forged = `tmm_${other.machineId}.${randomBytes(32).toString("base64url")}`;
      const forgedStatuses = [];
      for (let i = 0; i < 5; i++) forgedStatuses.push((await call(limited, "policy", { credential: forged })).status);
      expect(forgedStatuses).toEqual([401, 401, 401, 429, 429]);
      expect((await call(limited, "policy", { credential: other.credential })).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });
});

describe("policy", () => {
  it("serves the effective policy with an ETag, 304 when unchanged, and a new ETag after a change", async () => {
    const first = await call(w, "policy", { credential: m1.credential });
    expect(first.status).toBe(200);
    expect(first.body.policy.rpoSeconds).toBe(60);
    const etag = first.headers.get("etag")!;
    expect(first.body.etag).toBe(etag);
    expect((await call(w, "policy", { credential: m1.credential, headers: { "if-none-match": etag } })).status).toBe(304);

    const [policy] = await w.database.db
      .insert(schema.policies)
      .values({ mspId: w.mspId, name: "Fast", rpoSeconds: 5, includePaths: ["/srv"], retention: { keepWithinHours: 1, hourly: 2, daily: 3, weekly: 4, monthly: 5, yearly: 6 } })
      .returning();
    await w.database.db.insert(schema.policyAssignments).values({ mspId: w.mspId, customerId: w.a1, policyId: policy!.id });
    const changed = await call(w, "policy", { credential: m1.credential, headers: { "if-none-match": etag } });
    expect(changed.status).toBe(200);
    expect(changed.body.policy).toMatchObject({ rpoSeconds: 5, includePaths: ["/srv"], retention: { keepAllHours: 1, keepYearly: 6 } });
    expect(changed.body.etag).not.toBe(etag);
    const hb = await call(w, "heartbeat", { credential: m1.credential, body: heartbeatBody });
    expect(hb.body.policyEtag).toBe(changed.body.etag);
    // A customer A2 machine does not get A1's assignment.
    const a2 = await enroll(w, w.a2, "a2-policy");
    expect((await call(w, "policy", { credential: a2.credential })).body.policy.rpoSeconds).toBe(60);
  });
});

describe("upload session", () => {
  it("grants create/write/read on the own container only: no delete, no list, no other container, ≤ 1 h", async () => {
    const r = await call(w, "uploadSession", { credential: m1.credential });
    expect(r.status).toBe(200);
    expect(r.body.container).toBe(m1.repository.container);
    const ttl = Date.parse(r.body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(50 * 60_000);
    expect(ttl).toBeLessThanOrEqual(60 * 60_000);
    const sp = new URL(r.body.sasUrl).searchParams.get("sp")!;
    expect(sp).not.toMatch(/[dl]/);

    const store = new AzureBlobStore({ sasUrl: r.body.sasUrl });
    await store.put("data/00/upload-test", Buffer.from("pack bytes"), { ifNotExists: true });
    expect((await store.get("data/00/upload-test")).toString()).toBe("pack bytes");
    const client = new ContainerClient(r.body.sasUrl);
    await expect(client.getBlockBlobClient("data/00/upload-test").delete()).rejects.toMatchObject({ statusCode: 403 });
    await expect(client.listBlobsFlat().next()).rejects.toMatchObject({ statusCode: 403 });
    expect((await w.svc.blobs.container(w.a1).store.head("data/00/upload-test"))?.size).toBe(10);

    // The same signature aimed at customer A2's container is refused.
    const a2 = await enroll(w, w.a2, "a2-sas");
    const url = new URL(r.body.sasUrl);
    url.pathname = url.pathname.replace(m1.repository.container, a2.repository.container);
    const foreign = new ContainerClient(url.toString());
    await expect(foreign.getBlockBlobClient("data/00/intruder").upload("x", 1)).rejects.toMatchObject({ statusCode: 403 });
    expect(await w.svc.blobs.container(w.a2).store.head("data/00/intruder")).toBeNull();
  });
});

describe("packs and chunk index", () => {
  it("refuses a pack that is not in storage, or whose size differs, and indexes nothing", async () => {
    const ids = [chunkId(), chunkId()];
    const ghost = await call(w, "packs", { credential: m1.credential, body: packReport({ packId: chunkId(), size: 4096 }, ids) });
    expect(ghost.status).toBe(422);
    expect(ghost.body.error.code).toBe("pack_not_in_storage");
    const pack = await putPack(w, w.a1, 4096);
    const wrong = await call(w, "packs", { credential: m1.credential, body: packReport({ ...pack, size: 4000 }, ids) });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.code).toBe("pack_size_mismatch");
    const missing = await call(w, "chunksMissing", { credential: m1.credential, body: { ids } });
    expect(missing.body.missing.sort()).toEqual([...ids].sort());
  });

  it("indexes a stored pack idempotently; the chunks are then known to every machine of the customer", async () => {
    const ids = [chunkId(), chunkId(), chunkId()];
    const pack = await putPack(w, w.a1, 8192);
    const report = packReport(pack, ids);
    const r = await call(w, "packs", { credential: m1.credential, body: report });
    expect(r.status).toBe(200);
    expect(r.body.indexed).toBe(3);
    expect((await call(w, "packs", { credential: m1.credential, body: report })).status).toBe(200);
    const rows = await w.database.db.select().from(schema.chunkIndex).where(eq(schema.chunkIndex.packId, pack.packId));
    expect(rows).toHaveLength(3);

    const sibling = await enroll(w, w.a1, "fs-02");
    const fresh = chunkId();
    const q = await call(w, "chunksMissing", { credential: sibling.credential, body: { ids: [...ids, fresh] } });
    expect(q.body.missing).toEqual([fresh]);
  });

  it("indexes the columnar form (current agents) and the entries form (older agents) alike", async () => {
    const rowsOf = async (packId: string) =>
      (await w.database.db.select().from(schema.chunkIndex).where(eq(schema.chunkIndex.packId, packId))).map((r) => ({
        id: r.chunkId.toString("hex"),
        type: r.type,
        offset: r.offset,
        length: r.length,
        rawLength: r.rawLength,
      }));
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    const packA = await putPack(w, w.a1, 8192);
    const old = packReport(packA, [chunkId(), chunkId(), chunkId()]);
    old.entries[1]!.type = 1 as 0;
    const r1 = await call(w, "packs", { credential: m1.credential, body: old });
    expect(r1.status).toBe(200);
    expect(r1.body.indexed).toBe(3);
    expect((await rowsOf(packA.packId)).sort(byId)).toEqual([...old.entries].sort(byId));

    const packB = await putPack(w, w.a1, 8192);
    const fresh = packReport(packB, [chunkId(), chunkId(), chunkId()]);
    fresh.entries[2]!.type = 1 as 0;
    const { entries, ...head } = fresh;
    const r2 = await call(w, "packs", { credential: m1.credential, body: { ...head, columns: packColumns(entries) } });
    expect(r2.status).toBe(200);
    expect(r2.body.indexed).toBe(3);
    expect((await rowsOf(packB.packId)).sort(byId)).toEqual([...entries].sort(byId));
  });

  it("refuses a columnar report with a bad column, both forms or neither (400 naming the field) or a duplicate id (422)", async () => {
    const pack = await putPack(w, w.a1, 1024);
    const { entries, ...head } = packReport(pack, [chunkId(), chunkId()]);
    const columns = packColumns(entries);
    const refused = async (body: unknown, field: RegExp) => {
      const r = await call(w, "packs", { credential: m1.credential, body });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
      expect(r.body.error.message).toMatch(field);
    };
    await refused({ ...head, columns: { ...columns, ids: columns.ids.toUpperCase() } }, /columns\.ids: must be lower-case hex/);
    await refused({ ...head, columns: { ...columns, lengths: [64] } }, /columns\.lengths: has 1 entries but ids has 2/);
    await refused({ ...head, columns: { ...columns, offsets: [40, 1000] } }, /columns\.lengths\.1: entry 1 runs past the end of the pack/);
    await refused({ ...head, columns: { ...columns, rawLengths: [100, -1] } }, /columns\.rawLengths\.1: must be a non-negative integer/);
    await refused({ ...head, entries, columns }, /exactly one of entries and columns/);
    await refused(head, /exactly one of entries and columns/);
    const dup = packColumns([entries[0]!, { ...entries[1]!, id: entries[0]!.id }]);
    const d = await call(w, "packs", { credential: m1.credential, body: { ...head, columns: dup } });
    expect(d.status).toBe(422);
    expect(d.body.error.code).toBe("duplicate_entry");
    expect((await w.database.db.select().from(schema.chunkIndex).where(eq(schema.chunkIndex.packId, pack.packId)))).toHaveLength(0);
  });

  it("rejects malformed reports: entries past the end, duplicate ids, bad ids", async () => {
    const pack = await putPack(w, w.a1, 1024);
    const past = packReport(pack, [chunkId()]);
    past.entries[0]!.offset = 1000;
    expect((await call(w, "packs", { credential: m1.credential, body: past })).body.error.code).toBe("invalid_request");
    const dup = chunkId();
    const d = await call(w, "packs", { credential: m1.credential, body: packReport(pack, [dup, dup]) });
    expect(d.status).toBe(422);
    expect(d.body.error.code).toBe("duplicate_entry");
    const bad = await call(w, "chunksMissing", { credential: m1.credential, body: { ids: ["ABC"] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/ids\.0/);
  });

  it("takes the ids concatenated (idsHex, current agents) and answers missingHex; arrays get arrays", async () => {
    const ids = [chunkId(), chunkId(), chunkId()];
    const pack = await putPack(w, w.a1, 8192);
    expect((await call(w, "packs", { credential: m1.credential, body: packReport(pack, ids.slice(0, 2)) })).status).toBe(200);
    const hex = await call(w, "chunksMissing", { credential: m1.credential, body: { idsHex: ids.join("") } });
    expect(hex.status).toBe(200);
    expect(hex.body).toEqual({ missingHex: ids[2] });
    const none = await call(w, "chunksMissing", { credential: m1.credential, body: { idsHex: ids.slice(0, 2).join("") } });
    expect(none.body).toEqual({ missingHex: "" });
    expect((await call(w, "chunksMissing", { credential: m1.credential, body: { ids } })).body).toEqual({ missing: [ids[2]] });
    for (const [body, message] of [
      [{ idsHex: ids.join("").toUpperCase() }, /idsHex: must be lower-case hex/],
      [{ idsHex: ids.join("").slice(1) }, /idsHex: must be a whole number/],
      [{ ids, idsHex: ids.join("") }, /exactly one of ids and idsHex/],
    ] as const) {
      const bad = await call(w, "chunksMissing", { credential: m1.credential, body });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(message);
    }
  });
});

describe("recovery points", () => {
  it("refuses a point with unindexed chunks (409 + ids), accepts it once the pack is reported, and is idempotent", async () => {
    const tree = chunkId();
    const data = [chunkId(), chunkId()];
    const snapshotId = await putSnapshot(w, w.a1);
    const body = pointBody({ rootTree: tree, snapshotId, chunkIds: data });
    const refused = await call(w, "points", { credential: m1.credential, body });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("missing_chunks");
    expect(refused.body.error.missing.sort()).toEqual([tree, ...data].sort());

    const pack = await putPack(w, w.a1);
    expect((await call(w, "packs", { credential: m1.credential, body: packReport(pack, [tree, ...data]) })).status).toBe(200);
    const ok = await call(w, "points", { credential: m1.credential, body });
    expect(ok.status).toBe(201);
    const again = await call(w, "points", { credential: m1.credential, body });
    expect(again.status).toBe(200);
    expect(again.body.pointId).toBe(ok.body.pointId);
    const rows = await w.database.db.select().from(schema.recoveryPoints).where(eq(schema.recoveryPoints.clientPointId, body.clientPointId));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ machineId: m1.machineId, customerId: w.a1, snapshotId, consistency: "crash" });
  });

  it("checks the chunk ids of chunkIdsHex (current agents) as it checks chunkIds", async () => {
    const tree = chunkId();
    const data = [chunkId(), chunkId()];
    const snapshotId = await putSnapshot(w, w.a1);
    const { chunkIds: _, ...bare } = pointBody({ rootTree: tree, snapshotId });
    const body = { ...bare, chunkIdsHex: data.join("") };
    const pack = await putPack(w, w.a1);
    expect((await call(w, "packs", { credential: m1.credential, body: packReport(pack, [tree, data[0]!]) })).status).toBe(200);
    const refused = await call(w, "points", { credential: m1.credential, body });
    expect(refused.status).toBe(409);
    expect(refused.body.error.missing).toEqual([data[1]]);
    const both = await call(w, "points", { credential: m1.credential, body: { ...body, chunkIds: data } });
    expect(both.status).toBe(400);
    expect(both.body.error.message).toMatch(/at most one of chunkIds and chunkIdsHex/);
    const pack2 = await putPack(w, w.a1);
    expect((await call(w, "packs", { credential: m1.credential, body: packReport(pack2, [data[1]!]) })).status).toBe(200);
    expect((await call(w, "points", { credential: m1.credential, body })).status).toBe(201);
  });

  it("refuses a point whose manifest object is not in the container", async () => {
    const tree = chunkId();
    const pack = await putPack(w, w.a1);
    await call(w, "packs", { credential: m1.credential, body: packReport(pack, [tree]) });
    const r = await call(w, "points", { credential: m1.credential, body: pointBody({ rootTree: tree, snapshotId: chunkId() }) });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("snapshot_not_in_storage");
  });
});

describe("restore jobs", () => {
  it("runs queued → running → succeeded, with a read+list SAS (no write/delete), progress and an idempotent result", async () => {
    expect((await call(w, "nextRestoreJob", { credential: m1.credential })).body.job).toBeNull();
    const { job, pointId, snapshotId } = await restoreJobFor(m1, w.a1);
    const next = await call(w, "nextRestoreJob", { credential: m1.credential });
    expect(next.status).toBe(200);
    expect(next.body.job).toMatchObject({ id: job.id, pointId, snapshotId, paths: ["/data/a.txt"], destination: { kind: "folder", path: "/restore" }, conflict: "keep-both" });
    const sp = new URL(next.body.job.readSasUrl).searchParams.get("sp");
    expect(sp).toBe("rl");
    const reader = new AzureBlobStore({ sasUrl: next.body.job.readSasUrl });
    expect(await reader.head(`snapshots/${snapshotId}`)).not.toBeNull();
    const listed: string[] = [];
    for await (const b of reader.list("snapshots/")) listed.push(b.key);
    expect(listed).toContain(`snapshots/${snapshotId}`);
    await expect(reader.put("data/00/nope", Buffer.from("x"))).rejects.toThrow();
    await expect(new ContainerClient(next.body.job.readSasUrl).getBlockBlobClient(`snapshots/${snapshotId}`).delete()).rejects.toMatchObject({ statusCode: 403 });
    expect(await w.svc.blobs.container(w.a1).store.head(`snapshots/${snapshotId}`)).not.toBeNull();
    // Claimed: asking again (agent restarted) returns the same job, not a second one.
    expect((await call(w, "nextRestoreJob", { credential: m1.credential })).body.job.id).toBe(job.id);

    const progress = { bytesDone: 10, filesDone: 1, bytesTotal: 20, filesTotal: 2 };
    expect((await call(w, "restoreProgress", { credential: m1.credential, params: { id: job.id }, body: progress })).status).toBe(200);
    let [row] = await w.database.db.select().from(schema.restoreJobs).where(eq(schema.restoreJobs.id, job.id));
    expect(row!.state).toBe("running");
    expect(row!.progress).toMatchObject(progress);

    const result = { ok: true, restoredFiles: 2, failed: [] };
    expect((await call(w, "restoreResult", { credential: m1.credential, params: { id: job.id }, body: result })).status).toBe(200);
    expect((await call(w, "restoreResult", { credential: m1.credential, params: { id: job.id }, body: result })).status).toBe(200);
    [row] = await w.database.db.select().from(schema.restoreJobs).where(eq(schema.restoreJobs.id, job.id));
    expect(row).toMatchObject({ state: "succeeded", result });
    expect(row!.finishedAt).not.toBeNull();
    const late = await call(w, "restoreProgress", { credential: m1.credential, params: { id: job.id }, body: progress });
    expect(late.status).toBe(409);
    const flip = await call(w, "restoreResult", { credential: m1.credential, params: { id: job.id }, body: { ...result, ok: false } });
    expect(flip.status).toBe(409);
    expect((await call(w, "nextRestoreJob", { credential: m1.credential })).body.job).toBeNull();
    const bad = await call(w, "restoreProgress", { credential: m1.credential, params: { id: "not-a-uuid" }, body: progress });
    expect(bad.status).toBe(400);
  });

  it("a job for another machine of the same customer is not this machine's", async () => {
    const other = await enroll(w, w.a1, "fs-restore-other");
    const { job } = await restoreJobFor(other, w.a1);
    expect((await call(w, "nextRestoreJob", { credential: m1.credential })).body.job).toBeNull();
    expect((await call(w, "restoreResult", { credential: m1.credential, params: { id: job.id }, body: { ok: true, restoredFiles: 0, failed: [] } })).status).toBe(404);
    expect((await call(w, "nextRestoreJob", { credential: other.credential })).body.job.id).toBe(job.id);
  });
});

describe("events and heartbeat", () => {
  it("stores reported events against the machine", async () => {
    const events = [
      { time: new Date().toISOString(), level: "warn", kind: "unreadable-file", message: "permission denied", path: "/data/locked" },
      { time: new Date().toISOString(), level: "info", kind: "point-committed", message: "ok" },
    ];
    expect((await call(w, "events", { credential: m1.credential, body: { events } })).status).toBe(200);
    const rows = await w.database.db.select().from(schema.agentEvents).where(eq(schema.agentEvents.machineId, m1.machineId));
    expect(rows.map((r) => r.kind).sort()).toEqual(["point-committed", "unreadable-file"]);
    expect(rows.find((r) => r.kind === "unreadable-file")!.details).toEqual({ path: "/data/locked" });
    expect((await call(w, "events", { credential: m1.credential, body: { events: [] } })).status).toBe(400);
  });
});
