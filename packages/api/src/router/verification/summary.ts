import { machineVerificationSummary } from "@tidemark/backup";
import { z } from "zod";
import { backupCall } from "../../domain/repository";
import { customerProcedure } from "../../tenant";
import { machineId } from "../ids";

export const summaryInput = z.object({ machineId });

/** The machine page's verification line: last restore test, last verified restore, damaged points, scrub coverage. */
export const summary = customerProcedure("machines.read", summaryInput).query(({ ctx, input }) =>
  backupCall(() => machineVerificationSummary(ctx.services.database.db, ctx.tenant.scope, input.machineId)),
);
