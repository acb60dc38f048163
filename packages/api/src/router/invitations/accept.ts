import { z } from "zod";
import { transact } from "../../audit";
import { acceptInvitation } from "../../domain/invitations";
import { authedProcedure } from "../../trpc";
import { invitationToken } from "./token";

export const acceptInvitationInput = z.object({ token: invitationToken });

export const accept = authedProcedure
  .input(acceptInvitationInput)
  .mutation(({ ctx, input }) => transact(ctx, (tx, audit) => acceptInvitation(tx, audit, ctx.session.user, input.token)));
