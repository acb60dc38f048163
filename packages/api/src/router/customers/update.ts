import { z } from "zod";
import { transact } from "../../audit";
import { renameCustomer } from "../../domain/customers";
import { customerProcedure } from "../../tenant";
import { customerId, name } from "../ids";

export const updateCustomerInput = z.object({ customerId, name });

export const update = customerProcedure("customers.write", updateCustomerInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) => renameCustomer(tx, audit, ctx.tenant.scope, input.customerId, input.name)),
);
