import { z } from "zod";
import { transact } from "../../audit";
import { updatePolicy } from "../../domain/policies";
import { mspProcedure } from "../../tenant";
import { uuid } from "../ids";
import { policyChanges } from "./fields";

export const updatePolicyInput = policyChanges
  .extend({ policyId: uuid("policy") })
  .refine((v) => Object.keys(v).some((k) => k !== "policyId" && v[k as keyof typeof v] !== undefined), {
    error: "Nothing to change",
    path: ["name"],
  });

export const update = mspProcedure("policies.write", updatePolicyInput).mutation(({ ctx, input }) => {
  const { policyId, ...changes } = input;
  return transact(ctx, (tx, audit) => updatePolicy(tx, audit, ctx.tenant.scope, policyId, changes));
});
