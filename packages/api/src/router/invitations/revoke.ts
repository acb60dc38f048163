import { z } from "zod";
import { transact } from "../../audit";
import { revokeInvitation } from "../../domain/invitations";
import { customerProcedure } from "../../tenant";
import { uuid } from "../ids";

export const revokeInvitationInput = z.object({ invitationId: uuid("invitation") });

export const revoke = customerProcedure("members.invite", revokeInvitationInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) => revokeInvitation(tx, audit, ctx.tenant, input.invitationId)),
);
