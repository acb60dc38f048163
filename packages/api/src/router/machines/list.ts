import { z } from "zod";
import { listMachines } from "../../domain/machines";
import { customerProcedure } from "../../tenant";
import { customerId } from "../ids";

export const listMachinesInput = z.object({ customerId });

export const list = customerProcedure("machines.read", listMachinesInput).query(({ ctx, input }) =>
  listMachines(ctx.services.database.db, ctx.tenant.scope, input.customerId),
);
