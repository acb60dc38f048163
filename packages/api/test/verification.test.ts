/**
 * The verification procedures for the people allowed to use them: requests are
 * recorded once (a repeat returns the queued one), reads return A1's records,
 * and roles without the permission are refused.
 */
import { schema } from "@tidemark/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgStack, refused, seedWorld, type World } from "./fixtures";

let stack: Awaited<ReturnType<typeof pgStack>>;
let w: World;

beforeAll(async () => {
  stack = await pgStack();
  w = await seedWorld(stack);
});
afterAll(async () => stack?.database.drop());

describe("verification procedures", () => {
  it("verify now records one scrub request; asking again while it is queued returns the same one", async () => {
    const first = await w.techA.caller.verification.verifyNow({ customerId: w.a1.id });
    expect(first).toMatchObject({ state: "queued", duplicate: false });
    const again = await w.ownerA.caller.verification.verifyNow({ customerId: w.a1.id });
    expect(again).toMatchObject({ requestId: first.requestId, duplicate: true });
    const rows = await stack.database.db.select().from(schema.verificationRequests).where(eq(schema.verificationRequests.customerId, w.a1.id));
    expect(rows.map((r) => [r.kind, r.state, r.machineId]).sort()).toEqual([
      ["repository_check", "queued", null],
      ["scrub", "queued", null],
    ]);
    expect(again.repositoryCheckRequestId).toBe(first.repositoryCheckRequestId);
    // Read-only staff and customer people may look, not run.
    await refused(w.readOnlyA.caller.verification.verifyNow({ customerId: w.a1.id }), ["FORBIDDEN"]);
    await refused(w.a1Admin.caller.verification.verifyNow({ customerId: w.a1.id }), ["FORBIDDEN"]);
  });

  it("a restore test request names the machine and optionally a point of that machine", async () => {
    const r = await w.techA.caller.verification.runRestoreTest({ machineId: w.a1Machine.id, pointId: w.a1Point.id });
    expect(r.duplicate).toBe(false);
    const [row] = await stack.database.db.select().from(schema.verificationRequests).where(eq(schema.verificationRequests.id, r.requestId));
    expect(row).toMatchObject({ kind: "restore_test", machineId: w.a1Machine.id, recoveryPointId: w.a1Point.id });
  });

  it("lists restore tests, repository checks, damage and the machine summary", async () => {
    const { db } = stack.database;
    const scope = { mspId: w.mspA.id, customerId: w.a1.id };
    await db.insert(schema.restoreTests).values({ ...scope, machineId: w.a1Machine.id, recoveryPointId: w.a1Point.id, state: "passed", finishedAt: new Date(), files: 3, bytes: 42 });
    await db.insert(schema.repositoryChecks).values({ ...scope, state: "passed", packsChecked: 2 });
    await db
      .update(schema.recoveryPoints)
      .set({ health: "damaged", damage: { chunkIds: ["a".repeat(64)], files: ["data/ledger.xlsx"], detectedAt: new Date().toISOString() } })
      .where(eq(schema.recoveryPoints.id, w.a1Point.id));
    const tests = await w.a1User.caller.verification.restoreTests({ machineId: w.a1Machine.id });
    expect(tests.map((t) => [t.state, t.files, t.bytes])).toEqual([["passed", 3, 42]]);
    expect(await w.ownerA.caller.verification.restoreTests({ pointId: w.a1Point.id })).toHaveLength(1);
    expect((await w.readOnlyA.caller.verification.repositoryChecks({ customerId: w.a1.id })).map((c) => c.packsChecked)).toEqual([2]);
    expect(await w.a1User.caller.verification.damage({ pointId: w.a1Point.id })).toMatchObject({ health: "damaged", files: ["data/ledger.xlsx"], chunks: { total: 1, open: 0 } });
    expect((await w.a1Admin.caller.verification.damagedPoints({ customerId: w.a1.id })).map((p) => p.id)).toEqual([w.a1Point.id]);
    const summary = await w.a1User.caller.verification.summary({ machineId: w.a1Machine.id });
    expect(summary).toMatchObject({ damagedPoints: 1, lastRestoreTest: { state: "passed" } });
    expect(summary.lastVerifiedRestoreAt).toBeInstanceOf(Date);
    expect(summary.pendingRequests.map((p) => p.kind).sort()).toEqual(["repository_check", "restore_test", "scrub"]);
    await expect(w.a1User.caller.verification.restoreTests({})).rejects.toThrow(/machine or a recovery point/);
    const customer = await w.a1User.caller.verification.customerSummary({ customerId: w.a1.id });
    expect(customer).toMatchObject({ customerId: w.a1.id, damagedPoints: 1, lastRepositoryCheck: { state: "passed" } });
    expect(customer.machines.map((m) => [m.name, m.lastRestoreTest?.state, m.damagedPoints])).toEqual([["a1-srv", "passed", 1]]);
    expect(customer.machines[0]!.lastVerifiedRestoreAt).toBeInstanceOf(Date);
    expect(customer.pendingRequests.map((p) => p.kind).sort()).toEqual(["repository_check", "restore_test", "scrub"]);
  });
});
