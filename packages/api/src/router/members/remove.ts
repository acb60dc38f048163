import { z } from "zod";
import { transact } from "../../audit";
import { removeMember } from "../../domain/members";
import { customerProcedure } from "../../tenant";
import { uuid } from "../ids";

export const removeMemberInput = z.object({ membershipId: uuid("member") });

export const remove = customerProcedure("members.manage", removeMemberInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) => removeMember(tx, audit, ctx.tenant, input.membershipId)),
);
