import { z } from "zod";
import { listMembers } from "../../domain/members";
import { customerProcedure } from "../../tenant";
import { customerId, mspId } from "../ids";

/** A customer's members, or (MSP staff only) everyone in the MSP. */
export const listMembersInput = z.union([z.object({ customerId }), z.object({ mspId })]);

export const list = customerProcedure("members.read", listMembersInput).query(({ ctx }) =>
  listMembers(ctx.services.database.db, ctx.tenant.scope),
);
