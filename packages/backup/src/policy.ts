/**
 * The policy an agent runs: the machine's own assignment, else its
 * customer's default, else the protocol defaults — mapped onto the wire
 * shape, with an ETag that changes exactly when the mapped policy does.
 */
import { createHash } from "node:crypto";
import { type Policy, policySchema } from "@tidemark/agent-protocol";
import { type DbOrTx, schema, scopeToCustomer } from "@tidemark/db";
import { and, eq, isNull, or } from "drizzle-orm";
import type { MachineContext } from "./machine-auth";

export async function effectivePolicy(db: DbOrTx, machine: MachineContext): Promise<{ policy: Policy; etag: string }> {
  const rows = await db
    .select({ machineId: schema.policyAssignments.machineId, policy: schema.policies })
    .from(schema.policyAssignments)
    .innerJoin(schema.policies, eq(schema.policies.id, schema.policyAssignments.policyId))
    .where(
      and(
        scopeToCustomer(schema.policyAssignments, machine),
        or(eq(schema.policyAssignments.machineId, machine.machineId), isNull(schema.policyAssignments.machineId)),
      ),
    );
  const chosen = (rows.find((r) => r.machineId === machine.machineId) ?? rows.find((r) => r.machineId === null))?.policy;
  const policy = policySchema.parse(
    chosen
      ? {
          rpoSeconds: chosen.rpoSeconds,
          includePaths: chosen.includePaths,
          excludePaths: chosen.excludePaths,
          volumes: chosen.volumes,
          rescanEveryHours: chosen.rescanEveryHours,
          // The wire floor is 16 MiB; a smaller stored value would make the whole policy unreadable to the agent.
          spoolLimitBytes: Math.max(16 * 1024 * 1024, chosen.spoolLimitBytes),
          volumeIntervalSeconds: chosen.volumeIntervalSeconds,
          vss: chosen.vss,
          preFreezeCommand: chosen.preFreezeCommand ?? undefined,
          postThawCommand: chosen.postThawCommand ?? undefined,
          hookTimeoutSeconds: chosen.hookTimeoutSeconds,
          retention: {
            keepAllHours: chosen.retention.keepWithinHours,
            keepHourly: chosen.retention.hourly,
            keepDaily: chosen.retention.daily,
            keepWeekly: chosen.retention.weekly,
            keepMonthly: chosen.retention.monthly,
            keepYearly: chosen.retention.yearly,
          },
        }
      : {},
  );
  return { policy, etag: policyEtag(policy) };
}

export function policyEtag(policy: Policy): string {
  return `"${createHash("sha256").update(JSON.stringify(policy)).digest("hex").slice(0, 32)}"`;
}
