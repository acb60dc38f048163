import { listRecoveryPoints } from "@tidemark/backup";
import { z } from "zod";
import { customerProcedure } from "../../tenant";
import { machineId } from "../ids";

export const listPointsInput = z
  .object({ machineId, from: z.date().optional(), to: z.date().optional(), limit: z.number().int().min(1).max(10_000).default(2000) })
  .refine((i) => !i.from || !i.to || i.from <= i.to, { message: "from must not be after to", path: ["from"] });

/** Newest first, within the timeline's visible range. */
export const list = customerProcedure("machines.read", listPointsInput).query(({ ctx, input }) =>
  listRecoveryPoints(ctx.services.database.db, ctx.tenant.scope, input.machineId, { from: input.from, to: input.to, limit: input.limit }),
);
