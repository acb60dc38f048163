import { z } from "zod";
import { transact } from "../../audit";
import { revokeEnrollmentToken } from "../../domain/enrollment";
import { customerProcedure } from "../../tenant";
import { uuid } from "../ids";

export const revokeEnrollmentInput = z.object({ tokenId: uuid("enrollment token") });

export const revoke = customerProcedure("machines.enroll", revokeEnrollmentInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) => revokeEnrollmentToken(tx, audit, ctx.tenant.scope, input.tokenId)),
);
