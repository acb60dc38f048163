import { type DbOrTx, type TenantScope, schema, scopeTo } from "@tidemark/db";
import { and, asc, eq, isNull, or } from "drizzle-orm";
import { notFound } from "./errors";

const publicColumns = {
  id: schema.machines.id,
  mspId: schema.machines.mspId,
  customerId: schema.machines.customerId,
  name: schema.machines.name,
  os: schema.machines.os,
  agentVersion: schema.machines.agentVersion,
  lastSeenAt: schema.machines.lastSeenAt,
  enrolledAt: schema.machines.enrolledAt,
};

export async function listMachines(db: DbOrTx, scope: TenantScope, customerId: string) {
  return db
    .select(publicColumns)
    .from(schema.machines)
    .where(and(eq(schema.machines.customerId, customerId), scopeTo(schema.machines, scope)))
    .orderBy(asc(schema.machines.name));
}

/** A machine with the policy that applies to it: its own assignment, else its customer's default. */
export async function getMachine(db: DbOrTx, scope: TenantScope, machineId: string) {
  const [machine] = await db
    .select(publicColumns)
    .from(schema.machines)
    .where(and(eq(schema.machines.id, machineId), scopeTo(schema.machines, scope)));
  if (!machine) throw notFound("Machine");
  const assignments = await db
    .select({ machineId: schema.policyAssignments.machineId, policyId: schema.policyAssignments.policyId, name: schema.policies.name })
    .from(schema.policyAssignments)
    .innerJoin(schema.policies, eq(schema.policies.id, schema.policyAssignments.policyId))
    .where(
      and(
        scopeTo(schema.policyAssignments, { mspId: machine.mspId, customerId: machine.customerId }),
        or(eq(schema.policyAssignments.machineId, machineId), isNull(schema.policyAssignments.machineId)),
      ),
    );
  const own = assignments.find((a) => a.machineId === machineId);
  const fallback = assignments.find((a) => a.machineId === null);
  const effective = own ?? fallback;
  return {
    ...machine,
    policy: effective ? { id: effective.policyId, name: effective.name, source: own ? ("machine" as const) : ("customer" as const) } : null,
  };
}
