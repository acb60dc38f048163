import { requestVerification } from "@tidemark/backup";
import { z } from "zod";
import { transact } from "../../audit";
import { backupCall } from "../../domain/repository";
import { mspProcedure } from "../../tenant";
import { machineId, pointId } from "../ids";

export const runRestoreTestInput = z.object({ machineId, pointId: pointId.optional() });

/** A restore test now: of `pointId` (a point of this machine), else of the latest point. */
export const runRestoreTest = mspProcedure("restores.request", runRestoreTestInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) =>
    backupCall(async () => {
      const scope = { mspId: ctx.tenant.mspId, customerId: ctx.tenant.customerId! };
      const { request, duplicate } = await requestVerification(tx, scope, {
        kind: "restore_test",
        machineId: input.machineId,
        recoveryPointId: input.pointId ?? null,
        requestedByUserId: ctx.session.user.id,
      });
      if (!duplicate) {
        await audit({ ...scope, action: "verification.restore_test", targetType: "machine", targetId: input.machineId, metadata: { requestId: request.id, pointId: input.pointId ?? null } });
      }
      return { requestId: request.id, state: request.state, duplicate };
    }),
  ),
);
