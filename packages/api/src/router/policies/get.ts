import { z } from "zod";
import { getPolicy } from "../../domain/policies";
import { mspProcedure } from "../../tenant";
import { uuid } from "../ids";

export const getPolicyInput = z.object({ policyId: uuid("policy") });

export const get = mspProcedure("policies.read", getPolicyInput).query(({ ctx, input }) =>
  getPolicy(ctx.services.database.db, ctx.tenant.scope, input.policyId),
);
