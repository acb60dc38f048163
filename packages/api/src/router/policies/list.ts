import { z } from "zod";
import { listPolicies } from "../../domain/policies";
import { mspProcedure } from "../../tenant";
import { mspId } from "../ids";

export const listPoliciesInput = z.object({ mspId });

export const list = mspProcedure("policies.read", listPoliciesInput).query(({ ctx }) =>
  listPolicies(ctx.services.database.db, ctx.tenant.scope),
);
