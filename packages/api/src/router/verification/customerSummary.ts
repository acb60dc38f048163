import { customerVerificationSummary } from "@tidemark/backup";
import { z } from "zod";
import { backupCall } from "../../domain/repository";
import { customerProcedure } from "../../tenant";
import { customerId } from "../ids";

export const customerSummaryInput = z.object({ customerId });

/** The customer dashboard's verification panel: scrub coverage, bad chunks, damaged points, last repository check, each machine's last restore test. */
export const customerSummary = customerProcedure("machines.read", customerSummaryInput).query(({ ctx, input }) =>
  backupCall(() => customerVerificationSummary(ctx.services.database.db, ctx.tenant.scope, input.customerId)),
);
