/**
 * Isolation cases for the verification router: one per procedure (the suite fails on a
 * procedure without one). seed() creates A1's verification objects the cases attack.
 */
import { schema } from "@tidemark/db";
import type { Stack } from "../fixtures";
import type { Case, Ctx } from "./types";

export async function seed(stack: Stack, w: Ctx): Promise<Record<string, string>> {
  const { db } = stack.database;
  const scope = { mspId: w.mspA.id, customerId: w.a1.id };
  const [test] = await db
    .insert(schema.restoreTests)
    .values({ ...scope, machineId: w.a1Machine.id, recoveryPointId: w.a1Point.id, state: "failed", findings: [{ path: "a1-secret.docx", problem: "corrupt" }] })
    .returning();
  const [check] = await db.insert(schema.repositoryChecks).values({ ...scope, state: "passed" }).returning();
  return { restoreTestId: test!.id, repositoryCheckId: check!.id };
}

export const cases: Record<string, Case> = {
  "verification.verifyNow": { inputs: (w) => [{ customerId: w.a1.id }] },
  "verification.runRestoreTest": {
    inputs: (w) => [
      { machineId: w.a1Machine.id },
      { machineId: w.a1Machine.id, pointId: w.a1Point.id },
      // The attacker's own machine with A1's point, and A1's machine with a point named by id only.
      { machineId: w.a2Machine.id, pointId: w.a1Point.id },
    ],
  },
  "verification.restoreTests": { inputs: (w) => [{ machineId: w.a1Machine.id }, { pointId: w.a1Point.id }, { machineId: w.a2Machine.id, pointId: w.a1Point.id }] },
  "verification.repositoryChecks": { inputs: (w) => [{ customerId: w.a1.id }] },
  "verification.damage": { inputs: (w) => [{ pointId: w.a1Point.id }] },
  "verification.damagedPoints": { inputs: (w) => [{ customerId: w.a1.id }, { customerId: w.a2.id, machineId: w.a1Machine.id }, { customerId: w.a1.id, includeHealed: true }] },
  "verification.summary": { inputs: (w) => [{ machineId: w.a1Machine.id }] },
  "verification.customerSummary": { inputs: (w) => [{ customerId: w.a1.id }] },
};

