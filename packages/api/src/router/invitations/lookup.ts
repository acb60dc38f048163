import { z } from "zod";
import { lookupInvitation } from "../../domain/invitations";
import { publicProcedure } from "../../trpc";
import { invitationToken } from "./token";

export const lookupInvitationInput = z.object({ token: invitationToken });

/** Public: the invite page renders before the invitee has an account. Holding the token is the authorization. */
export const lookup = publicProcedure
  .input(lookupInvitationInput)
  .query(({ ctx, input }) => lookupInvitation(ctx.services.database.db, input.token));
