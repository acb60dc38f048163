import { listRestoreJobs } from "@tidemark/backup";
import { z } from "zod";
import { customerProcedure } from "../../tenant";
import { customerId, machineId } from "../ids";

export const listRestoresInput = z.union([z.object({ machineId, limit: z.number().int().min(1).max(1000).default(50) }), z.object({ customerId, limit: z.number().int().min(1).max(1000).default(50) })]);

/** Newest first, with the agent's progress; the dialog polls this while a job runs. */
export const list = customerProcedure("machines.read", listRestoresInput).query(({ ctx, input }) =>
  listRestoreJobs(ctx.services.database.db, ctx.tenant.scope, { ...("machineId" in input ? { machineId: input.machineId } : { customerId: input.customerId }), limit: input.limit }),
);
