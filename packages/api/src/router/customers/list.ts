import { z } from "zod";
import { listCustomers } from "../../domain/customers";
import { mspProcedure } from "../../tenant";
import { mspId } from "../ids";

export const listCustomersInput = z.object({ mspId });

export const list = mspProcedure("customers.read", listCustomersInput).query(({ ctx }) =>
  listCustomers(ctx.services.database.db, ctx.tenant.scope),
);
