import { z } from "zod";
import { getMachine } from "../../domain/machines";
import { customerProcedure } from "../../tenant";
import { uuid } from "../ids";

export const getMachineInput = z.object({ machineId: uuid("machine") });

export const get = customerProcedure("machines.read", getMachineInput).query(({ ctx, input }) =>
  getMachine(ctx.services.database.db, ctx.tenant.scope, input.machineId),
);
