import { type DbOrTx, type TenantScope, type Tx, schema, scopeTo } from "@tidemark/db";
import type { Retention } from "@tidemark/db/schema";
import { and, asc, eq, isNull } from "drizzle-orm";
import type { Audit } from "../audit";
import { notFound } from "./errors";

export type PolicyFields = {
  name: string;
  rpoSeconds: number;
  includePaths: string[];
  excludePaths: string[];
  volumes: string[];
  retention: Retention;
  restoreTestEveryHours: number;
  rescanEveryHours: number;
  spoolLimitBytes: number;
  volumeIntervalSeconds: number;
  vss: boolean;
  preFreezeCommand: string | null;
  postThawCommand: string | null;
  hookTimeoutSeconds: number;
  scrubPeriodDays: number;
  repoCheckEveryHours: number;
  offlineAlertMinutes: number;
  rpoMissedFactor: number;
};

export async function listPolicies(db: DbOrTx, scope: TenantScope) {
  return db.select().from(schema.policies).where(scopeTo(schema.policies, scope)).orderBy(asc(schema.policies.name));
}

export async function getPolicy(db: DbOrTx, scope: TenantScope, policyId: string) {
  const [policy] = await db.select().from(schema.policies).where(and(eq(schema.policies.id, policyId), scopeTo(schema.policies, scope)));
  if (!policy) throw notFound("Policy");
  const assignments = await db
    .select({
      id: schema.policyAssignments.id,
      customerId: schema.policyAssignments.customerId,
      customerName: schema.customers.name,
      machineId: schema.policyAssignments.machineId,
      machineName: schema.machines.name,
    })
    .from(schema.policyAssignments)
    .innerJoin(schema.customers, eq(schema.customers.id, schema.policyAssignments.customerId))
    .leftJoin(schema.machines, eq(schema.machines.id, schema.policyAssignments.machineId))
    .where(and(eq(schema.policyAssignments.policyId, policyId), scopeTo(schema.policyAssignments, scope)));
  return { ...policy, assignments };
}

export async function createPolicy(tx: Tx, audit: Audit, mspId: string, fields: PolicyFields) {
  const [row] = await tx.insert(schema.policies).values({ mspId, ...fields }).returning();
  await audit({ mspId, action: "policy.create", targetType: "policy", targetId: row!.id, metadata: { name: fields.name } });
  return row!;
}

export type PolicyChanges = Partial<Omit<PolicyFields, "retention">> & { retention?: Partial<Retention> };

export async function updatePolicy(tx: Tx, audit: Audit, scope: TenantScope, policyId: string, changes: PolicyChanges) {
  const before = await getPolicy(tx, scope, policyId);
  const { retention: retentionChanges, ...rest } = changes;
  const retention: Retention = { ...before.retention, ...stripUndefined(retentionChanges ?? {}) };
  const [row] = await tx
    .update(schema.policies)
    .set({ ...rest, retention })
    .where(and(eq(schema.policies.id, policyId), scopeTo(schema.policies, scope)))
    .returning();
  await audit({ mspId: row!.mspId, action: "policy.update", targetType: "policy", targetId: policyId, metadata: { changes } });
  return row!;
}

/** Makes the policy the customer's default, or a machine's override; replaces any previous one. */
export async function assignPolicy(
  tx: Tx,
  audit: Audit,
  scope: TenantScope,
  policyId: string,
  target: { customerId: string } | { machineId: string },
) {
  await getPolicy(tx, scope, policyId);
  let customerId: string;
  let machineId: string | null = null;
  if ("machineId" in target) {
    const [m] = await tx
      .select({ id: schema.machines.id, customerId: schema.machines.customerId })
      .from(schema.machines)
      .where(and(eq(schema.machines.id, target.machineId), scopeTo(schema.machines, scope)));
    if (!m) throw notFound("Machine");
    customerId = m.customerId;
    machineId = m.id;
  } else {
    const [c] = await tx
      .select({ id: schema.customers.id })
      .from(schema.customers)
      .where(and(eq(schema.customers.id, target.customerId), scopeTo({ mspId: schema.customers.mspId, customerId: schema.customers.id }, scope)));
    if (!c) throw notFound("Customer");
    customerId = c.id;
  }
  const where = and(
    scopeTo(schema.policyAssignments, { mspId: scope.mspId, customerId }),
    machineId ? eq(schema.policyAssignments.machineId, machineId) : isNull(schema.policyAssignments.machineId),
  );
  const [existing] = await tx.select().from(schema.policyAssignments).where(where);
  const [row] = existing
    ? await tx.update(schema.policyAssignments).set({ policyId }).where(eq(schema.policyAssignments.id, existing.id)).returning()
    : await tx.insert(schema.policyAssignments).values({ mspId: scope.mspId, customerId, machineId, policyId }).returning();
  await audit({
    mspId: scope.mspId,
    customerId,
    action: "policy.assign",
    targetType: machineId ? "machine" : "customer",
    targetId: machineId ?? customerId,
    metadata: { policyId, previousPolicyId: existing?.policyId ?? null },
  });
  return row!;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
