import { z } from "zod";
import { listEnrollmentTokens } from "../../domain/enrollment";
import { customerProcedure } from "../../tenant";
import { customerId } from "../ids";

export const listEnrollmentInput = z.object({ customerId });

export const list = customerProcedure("machines.read", listEnrollmentInput).query(({ ctx, input }) =>
  listEnrollmentTokens(ctx.services.database.db, ctx.tenant.scope, input.customerId),
);
