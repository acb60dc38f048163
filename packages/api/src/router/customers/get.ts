import { z } from "zod";
import { getCustomer } from "../../domain/customers";
import { customerProcedure } from "../../tenant";
import { customerId } from "../ids";

export const getCustomerInput = z.object({ customerId });

export const get = customerProcedure("customers.read", getCustomerInput).query(({ ctx, input }) =>
  getCustomer(ctx.services.database.db, ctx.tenant.scope, input.customerId),
);
