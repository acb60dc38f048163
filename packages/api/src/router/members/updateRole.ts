import { z } from "zod";
import { transact } from "../../audit";
import { updateMemberRole } from "../../domain/members";
import { customerProcedure } from "../../tenant";
import { uuid } from "../ids";
import { role } from "./role";

export const updateRoleInput = z.object({ membershipId: uuid("member"), role });

export const updateRole = customerProcedure("members.manage", updateRoleInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) => updateMemberRole(tx, audit, ctx.tenant, input.membershipId, input.role)),
);
