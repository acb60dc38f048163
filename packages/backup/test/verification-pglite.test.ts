/**
 * The embedded portal runs the verification jobs on PGlite: the scrub's
 * ordering and coverage aggregates, the damage transaction, the due queries
 * (raw SQL through db.execute) and the request claim must work there too.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { schema } from "@tidemark/db";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  claimVerificationRequest,
  customerVerificationSummary,
  customersDueForRepositoryCheck,
  machinesDueForRestoreTest,
  machineVerificationSummary,
  noAlerts,
  openCustomerRepo,
  requestVerification,
  runRepositoryCheck,
  runRestoreTest,
  scrubCustomer,
} from "../src";
import { protectFolder } from "../src/testing";
import { createWorld, type World } from "./fixtures";

let w: World;
let dir: string;
beforeAll(async () => {
  w = await createWorld({ pglite: true });
  dir = await mkdtemp(join(tmpdir(), "tm-verify-lite-"));
  await mkdir(join(dir, "data"), { recursive: true });
  await writeFile(join(dir, "data", "a.bin"), randomBytes(100_000));
});
afterAll(async () => {
  await w?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("verification on PGlite", () => {
  it("scrubs, records damage, runs a restore test and a repository check, and answers the sweeps", async () => {
    const scope = { mspId: w.mspId, customerId: w.a1 };
    const [m] = await w.database.db.insert(schema.machines).values({ ...scope, name: "LITE-01", os: "linux" }).returning();
    const { pointId } = await protectFolder({ db: w.database.db, kek: w.svc.kek, blobs: w.svc.blobs, scope, machineId: m!.id, paths: [join(dir, "data")] });
    const repo = (await openCustomerRepo({ ...w.svc, alerts: noAlerts }, scope))!;
    expect((await customersDueForRepositoryCheck(w.database.db)).map((c) => c.customerId)).toEqual([w.a1]);
    expect((await machinesDueForRestoreTest(w.database.db)).map((x) => x.machineId)).toEqual([m!.id]);

    const [entry] = await w.database.db.select().from(schema.chunkIndex).where(sql`${schema.chunkIndex.type} = 0`).limit(1);
    const key = `data/${entry!.packId.slice(0, 2)}/${entry!.packId}`;
    const bytes = await repo.store.get(key);
    bytes[entry!.offset + 20] = bytes[entry!.offset + 20]! ^ 0xff;
    await repo.store.put(key, bytes);
    const r = await scrubCustomer(repo, { budgetBytes: Infinity });
    expect(r.bad).toHaveLength(1);
    expect(r.damage!.points.map((p) => p.pointId)).toEqual([pointId]);

    const t = await runRestoreTest(repo, m!.id, { trigger: "schedule", scratchRoot: dir });
    expect(t!.state).toBe("failed");
    expect((await runRepositoryCheck(repo)).check.state).toBe("passed");
    const s = await machineVerificationSummary(w.database.db, scope, m!.id);
    expect(s).toMatchObject({ damagedPoints: 1, openBadChunks: 1, scrub: { corruptPacks: 1 } });
    expect(s.scrub.scrubbedPacks).toBe(s.scrub.packs);
    const c = await customerVerificationSummary(w.database.db, { mspId: w.mspId }, w.a1);
    expect(c).toMatchObject({ damagedPoints: 1, openBadChunks: 1, lastRepositoryCheck: { state: "passed" }, machines: [{ name: "LITE-01", lastRestoreTest: { state: "failed" }, damagedPoints: 1 }] });

    const { request } = await requestVerification(w.database.db, scope, { kind: "restore_test", machineId: m!.id });
    expect((await claimVerificationRequest(w.database.db))!.id).toBe(request.id);
    const [row] = await w.database.db.select().from(schema.verificationRequests).where(eq(schema.verificationRequests.id, request.id));
    expect(row!.state).toBe("running");
  });
});
