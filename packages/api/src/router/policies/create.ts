import { transact } from "../../audit";
import { createPolicy } from "../../domain/policies";
import { mspProcedure } from "../../tenant";
import { mspId } from "../ids";
import { policyFields } from "./fields";

export const createPolicyInput = policyFields.extend({ mspId });

export const create = mspProcedure("policies.write", createPolicyInput).mutation(({ ctx, input }) => {
  const { mspId: _, ...fields } = input;
  return transact(ctx, (tx, audit) => createPolicy(tx, audit, ctx.tenant.mspId, fields));
});
