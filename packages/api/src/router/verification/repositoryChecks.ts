import { listRepositoryChecks } from "@tidemark/backup";
import { z } from "zod";
import { mspProcedure } from "../../tenant";
import { customerId } from "../ids";

export const repositoryChecksInput = z.object({ customerId, limit: z.number().int().min(1).max(200).optional() });

/** Index-vs-container checks of a customer, newest first. */
export const repositoryChecks = mspProcedure("machines.read", repositoryChecksInput).query(({ ctx, input }) =>
  listRepositoryChecks(ctx.services.database.db, ctx.tenant.scope, input.customerId, input.limit),
);
