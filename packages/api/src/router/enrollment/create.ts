import { z } from "zod";
import { transact } from "../../audit";
import { createEnrollmentToken } from "../../domain/enrollment";
import { customerProcedure } from "../../tenant";
import { customerId } from "../ids";

export const createEnrollmentInput = z.object({
  customerId,
  expiresInHours: z
    .number({ error: "Expiry must be a number of hours" })
    .int("Expiry must be whole hours")
    .min(1, "Expiry must be at least 1 hour")
    .max(24 * 7, "Expiry must be at most 168 hours (7 days)")
    .default(24),
});

/** Returns the token once; only its hash is kept. */
export const create = customerProcedure("machines.enroll", createEnrollmentInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) =>
    createEnrollmentToken(
      tx,
      audit,
      { mspId: ctx.tenant.mspId, customerId: input.customerId },
      { expiresInHours: input.expiresInHours, userId: ctx.session.user.id, publicUrl: ctx.services.publicUrl },
    ),
  ),
);
