import { requestVerification } from "@tidemark/backup";
import { z } from "zod";
import { transact } from "../../audit";
import { backupCall } from "../../domain/repository";
import { mspProcedure } from "../../tenant";
import { customerId } from "../ids";

export const verifyNowInput = z.object({ customerId });

/**
 * "Verify now": a full scrub of the customer's container (every pack read and
 * every chunk opened) plus a repository check, picked up by the worker within seconds. A request that is
 * already queued or running is returned instead of a second one.
 */
export const verifyNow = mspProcedure("restores.request", verifyNowInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) =>
    backupCall(async () => {
      const scope = { mspId: ctx.tenant.mspId, customerId: input.customerId };
      const { request, duplicate } = await requestVerification(tx, scope, { kind: "scrub", requestedByUserId: ctx.session.user.id });
      // The index-vs-container check is cheap and gives the dashboard a fresh "last repository check" too.
      const check = await requestVerification(tx, scope, { kind: "repository_check", requestedByUserId: ctx.session.user.id });
      if (!duplicate) {
        await audit({ ...scope, action: "verification.verify_now", targetType: "customer", targetId: input.customerId, metadata: { requestId: request.id, repositoryCheckRequestId: check.request.id } });
      }
      return { requestId: request.id, repositoryCheckRequestId: check.request.id, state: request.state, duplicate };
    }),
  ),
);
