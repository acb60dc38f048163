import { z } from "zod";
import { listInvitations } from "../../domain/invitations";
import { customerProcedure } from "../../tenant";
import { customerId, mspId } from "../ids";

export const listInvitationsInput = z.union([z.object({ customerId }), z.object({ mspId })]);

export const list = customerProcedure("members.read", listInvitationsInput).query(({ ctx }) =>
  listInvitations(ctx.services.database.db, ctx.tenant.scope),
);
