import { z } from "zod";
import { transact } from "../../audit";
import { createCustomer } from "../../domain/customers";
import { mspProcedure } from "../../tenant";
import { mspId, name } from "../ids";

export const createCustomerInput = z.object({ mspId, name });

export const create = mspProcedure("customers.write", createCustomerInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) => createCustomer(tx, audit, ctx.tenant.mspId, input.name)),
);
