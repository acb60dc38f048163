/**
 * Customer A1's machine against everything customer A2 owns, for every
 * agent route: it can neither see, index, commit against nor touch it.
 */
import { randomUUID } from "node:crypto";
import { routes } from "@tidemark/agent-protocol";
import { schema } from "@tidemark/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRestoreJob } from "../src";
import type { AgentRouteName } from "../src/http";
import { call, chunkId, createWorld, enroll, type Enrolled, heartbeatBody, packReport, pointBody, putPack, putSnapshot, type World } from "./fixtures";

let w: World;
let a1: Enrolled;
let a2: Enrolled;
/** What A2 owns. */
const b = { chunks: [] as string[], tree: "", snapshotId: "", pack: { packId: "", size: 0 }, jobId: "", pointId: "", clientPointId: randomUUID() };

beforeAll(async () => {
  w = await createWorld();
  a1 = await enroll(w, w.a1, "a1-srv");
  a2 = await enroll(w, w.a2, "a2-srv");
  b.tree = chunkId();
  b.chunks = [b.tree, chunkId(), chunkId()];
  b.pack = await putPack(w, w.a2);
  expect((await call(w, "packs", { credential: a2.credential, body: packReport(b.pack, b.chunks) })).status).toBe(200);
  b.snapshotId = await putSnapshot(w, w.a2);
  const p = await call(w, "points", { credential: a2.credential, body: pointBody({ rootTree: b.tree, snapshotId: b.snapshotId, clientPointId: b.clientPointId }) });
  expect(p.status).toBe(201);
  b.pointId = p.body.pointId;
  const job = await w.database.db.transaction((tx) =>
    createRestoreJob(tx as never, { mspId: w.mspId, customerId: w.a2 }, { machineId: a2.machineId, recoveryPointId: b.pointId, paths: [], destination: { kind: "original" }, conflict: "skip" }),
  );
  b.jobId = job.id;
});
afterAll(async () => {
  await w?.stop();
});

type Case = { route: AgentRouteName; run: () => Promise<void> };

const cases: Case[] = [
  {
    route: "enroll",
    run: async () => {
      // An enrolment can only ever yield the token's own customer and key.
      const again = await enroll(w, w.a1, "a1-second");
      expect(again.customerId).toBe(w.a1);
      expect(again.dataKey).not.toBe(a2.dataKey);
      expect(again.repository.container).not.toBe(a2.repository.container);
    },
  },
  {
    route: "heartbeat",
    run: async () => {
      expect((await call(w, "heartbeat", { credential: a1.credential, body: { ...heartbeatBody, hostname: "spoofed" } })).status).toBe(200);
      const [row] = await w.database.db.select().from(schema.machineAgents).where(eq(schema.machineAgents.machineId, a2.machineId));
      expect(row!.hostname).toBe("a2-srv.corp.local");
    },
  },
  {
    route: "policy",
    run: async () => {
      const [p] = await w.database.db
        .insert(schema.policies)
        .values({ mspId: w.mspId, name: "A2 only", rpoSeconds: 7, retention: { keepWithinHours: 1, hourly: 1, daily: 1, weekly: 1, monthly: 1, yearly: 1 } })
        .returning();
      await w.database.db.insert(schema.policyAssignments).values({ mspId: w.mspId, customerId: w.a2, policyId: p!.id });
      expect((await call(w, "policy", { credential: a2.credential })).body.policy.rpoSeconds).toBe(7);
      expect((await call(w, "policy", { credential: a1.credential })).body.policy.rpoSeconds).toBe(60);
    },
  },
  {
    route: "uploadSession",
    run: async () => {
      const r = await call(w, "uploadSession", { credential: a1.credential });
      expect(r.body.container).toBe(a1.repository.container);
      expect(new URL(r.body.sasUrl).pathname).not.toContain(a2.repository.container);
    },
  },
  {
    route: "chunksMissing",
    run: async () => {
      const r = await call(w, "chunksMissing", { credential: a1.credential, body: { ids: b.chunks } });
      expect(r.body.missing.sort()).toEqual([...b.chunks].sort());
      // Sanity: A2 itself sees them as present.
      expect((await call(w, "chunksMissing", { credential: a2.credential, body: { ids: b.chunks } })).body.missing).toEqual([]);
    },
  },
  {
    route: "packs",
    run: async () => {
      // A2's pack object is not in A1's container: A1 cannot index it (or A2's chunks) for itself.
      const r = await call(w, "packs", { credential: a1.credential, body: packReport(b.pack, b.chunks) });
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe("pack_not_in_storage");
      const a1Rows = await w.database.db.select().from(schema.chunkIndex).where(eq(schema.chunkIndex.customerId, w.a1));
      expect(a1Rows.filter((x) => x.packId === b.pack.packId)).toHaveLength(0);
    },
  },
  {
    route: "points",
    run: async () => {
      // Referencing A2's chunks: they are not A1's, so the commit is refused with exactly those ids.
      const r = await call(w, "points", { credential: a1.credential, body: pointBody({ rootTree: b.tree, snapshotId: b.snapshotId, chunkIds: b.chunks }) });
      expect(r.status).toBe(409);
      expect(r.body.error.missing.sort()).toEqual([...b.chunks].sort());
      // Re-using A2's client point id does not return A2's point.
      const pack = await putPack(w, w.a1);
      const tree = chunkId();
      await call(w, "packs", { credential: a1.credential, body: packReport(pack, [tree]) });
      const snap = await putSnapshot(w, w.a1);
      const mine = await call(w, "points", { credential: a1.credential, body: pointBody({ rootTree: tree, snapshotId: snap, clientPointId: b.clientPointId }) });
      expect(mine.status).toBe(201);
      expect(mine.body.pointId).not.toBe(b.pointId);
    },
  },
  {
    route: "nextRestoreJob",
    run: async () => {
      expect((await call(w, "nextRestoreJob", { credential: a1.credential })).body.job).toBeNull();
    },
  },
  {
    route: "restoreProgress",
    run: async () => {
      const r = await call(w, "restoreProgress", { credential: a1.credential, params: { id: b.jobId }, body: { bytesDone: 1, filesDone: 1, bytesTotal: 1, filesTotal: 1 } });
      expect(r.status).toBe(404);
      const [job] = await w.database.db.select().from(schema.restoreJobs).where(eq(schema.restoreJobs.id, b.jobId));
      expect(job!.state).toBe("queued");
    },
  },
  {
    route: "restoreResult",
    run: async () => {
      const r = await call(w, "restoreResult", { credential: a1.credential, params: { id: b.jobId }, body: { ok: false, restoredFiles: 0, failed: [] } });
      expect(r.status).toBe(404);
      const [job] = await w.database.db.select().from(schema.restoreJobs).where(eq(schema.restoreJobs.id, b.jobId));
      expect(job!.state).toBe("queued");
    },
  },
  {
    route: "events",
    run: async () => {
      await call(w, "events", { credential: a1.credential, body: { events: [{ time: new Date().toISOString(), level: "error", kind: "error", message: "x" }] } });
      const rows = await w.database.db.select().from(schema.agentEvents).where(eq(schema.agentEvents.customerId, w.a2));
      expect(rows).toHaveLength(0);
    },
  },
];

describe("customer A1's machine against customer A2", () => {
  it("has a case for every route of the protocol", () => {
    expect(cases.map((c) => c.route).sort()).toEqual((Object.keys(routes) as string[]).sort());
  });
  it.each(cases)("$route", async ({ run }) => {
    await run();
  });
  it("A2's job is still there for A2's machine", async () => {
    expect((await call(w, "nextRestoreJob", { credential: a2.credential })).body.job.id).toBe(b.jobId);
  });
});
