import { z } from "zod";
import { transact } from "../../audit";
import { createInvitation, sendInvitationEmail } from "../../domain/invitations";
import { customerProcedure } from "../../tenant";
import { customerId, mspId } from "../ids";
import { role } from "../members/role";

export const createInvitationInput = z.object({
  mspId,
  customerId: customerId.optional(),
  email: z.email({ error: "Enter a valid email address" }).max(254),
  role,
});

export const create = customerProcedure("members.invite", createInvitationInput).mutation(async ({ ctx, input }) => {
  const { invitation, token } = await transact(ctx, (tx, audit) =>
    createInvitation(tx, audit, ctx.tenant, { ...input, invitedByUserId: ctx.session.user.id }),
  );
  const email = await sendInvitationEmail(ctx.services.database.db, ctx.services.mailer, {
    invitationId: invitation.id,
    token,
    publicUrl: ctx.services.publicUrl,
    inviterEmail: ctx.session.user.email,
  });
  return {
    id: invitation.id,
    email: invitation.email,
    role: invitation.role,
    customerId: invitation.customerId,
    expiresAt: invitation.expiresAt,
    ...email,
  };
});
