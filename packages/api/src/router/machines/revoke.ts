import { revokeMachine } from "@tidemark/backup";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { transact } from "../../audit";
import { mspProcedure } from "../../tenant";
import { machineId } from "../ids";

export const revokeMachineInput = z.object({ machineId });

/** The machine's credential stops working at once; its recovery points stay. Re-enrolling lifts it. */
export const revoke = mspProcedure("machines.enroll", revokeMachineInput).mutation(({ ctx, input }) =>
  transact(ctx, async (tx, audit) => {
    const scope = { mspId: ctx.tenant.mspId, customerId: ctx.tenant.customerId! };
    if (!(await revokeMachine(tx, scope, input.machineId))) throw new TRPCError({ code: "NOT_FOUND", message: "Machine not found" });
    await audit({ ...scope, action: "machine.revoke", targetType: "machine", targetId: input.machineId });
    return { machineId: input.machineId, revoked: true };
  }),
);
