import { z } from "zod";
import { transact } from "../../audit";
import { updateCustomer } from "../../domain/customers";
import { customerProcedure } from "../../tenant";
import { customerId, name } from "../ids";

const GiB = 1024 ** 3;

/** null lifts the quota; a quota under 1 GiB would be full after the first machine's first point. */
export const storageQuotaBytes = z
  .number({ error: "Storage quota must be a number of bytes" })
  .int("Storage quota must be whole bytes")
  .min(GiB, "Storage quota must be at least 1 GiB (or empty for no quota)")
  .max(1024 ** 5, "Storage quota must be at most 1 PiB")
  .nullable();

export const updateCustomerInput = z
  .object({ customerId, name: name.optional(), storageQuotaBytes: storageQuotaBytes.optional() })
  .refine((v) => v.name !== undefined || v.storageQuotaBytes !== undefined, { error: "Nothing to change", path: ["name"] });

export const update = customerProcedure("customers.write", updateCustomerInput).mutation(({ ctx, input }) => {
  const { customerId: id, ...changes } = input;
  return transact(ctx, (tx, audit) => updateCustomer(tx, audit, ctx.tenant.scope, id, changes));
});
