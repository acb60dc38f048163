import { listRestoreTests } from "@tidemark/backup";
import { z } from "zod";
import { customerProcedure } from "../../tenant";
import { machineId, pointId } from "../ids";

export const restoreTestsInput = z
  .object({ machineId: machineId.optional(), pointId: pointId.optional(), limit: z.number().int().min(1).max(200).optional() })
  .refine((i) => i.machineId || i.pointId, { message: "Give a machine or a recovery point", path: ["machineId"] });

/** Restore test results, newest first: of a machine, or of one point ("verified" badge on the point). */
export const restoreTests = customerProcedure("machines.read", restoreTestsInput).query(({ ctx, input }) =>
  listRestoreTests(ctx.services.database.db, ctx.tenant.scope, { machineId: input.machineId, pointId: input.pointId, limit: input.limit }),
);
