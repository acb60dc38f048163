import { damagedPoints as listDamaged } from "@tidemark/backup";
import { z } from "zod";
import { customerProcedure } from "../../tenant";
import { customerId, machineId } from "../ids";

export const damagedPointsInput = z.object({ customerId, machineId: machineId.optional(), includeHealed: z.boolean().optional() });

/** Damaged (and optionally healed) points of a customer or one of its machines, with their affected files. */
export const damagedPoints = customerProcedure("machines.read", damagedPointsInput).query(({ ctx, input }) =>
  listDamaged(ctx.services.database.db, ctx.tenant.scope, input),
);
