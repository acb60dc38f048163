import { cancelRestoreJob } from "@tidemark/backup";
import { z } from "zod";
import { transact } from "../../audit";
import { backupCall } from "../../domain/repository";
import { customerProcedure } from "../../tenant";
import { uuid } from "../ids";

export const cancelRestoreInput = z.object({ jobId: uuid("restore job") });

export const cancel = customerProcedure("restores.request", cancelRestoreInput).mutation(({ ctx, input }) => {
  return transact(ctx, (tx, audit) =>
    backupCall(async () => {
      const job = await cancelRestoreJob(tx, ctx.tenant.scope, input.jobId);
      await audit({ mspId: job.mspId, customerId: job.customerId, action: "restore.cancel", targetType: "restore_job", targetId: job.id });
      return job;
    }),
  );
});
