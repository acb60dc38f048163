import { z } from "zod";
import { transact } from "../../audit";
import { assignPolicy } from "../../domain/policies";
import { mspProcedure } from "../../tenant";
import { customerId, uuid } from "../ids";

export const assignPolicyInput = z.object({
  policyId: uuid("policy"),
  target: z.union([z.object({ customerId }), z.object({ machineId: uuid("machine") })], {
    error: "Target must be { customerId } or { machineId }",
  }),
});

/** The target is nested on purpose: it is checked by the handler against the policy's MSP, not trusted as a tenant key. */
export const assign = mspProcedure("policies.write", assignPolicyInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) => assignPolicy(tx, audit, ctx.tenant.scope, input.policyId, input.target)),
);
