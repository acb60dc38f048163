import { canGrant } from "@tidemark/auth/permissions";
import { type Db, type DbOrTx, hashToken, newToken, type TenantScope, type Tx, schema, scopeTo } from "@tidemark/db";
import type { Role } from "@tidemark/db/schema";
import { escapeHtml, type Mailer } from "@tidemark/notify";
import { and, desc, eq, isNull } from "drizzle-orm";
import type { Audit } from "../audit";
import type { Tenant } from "../tenant";
import { badRequest, conflict, forbidden, notFound } from "./errors";
import { isMspRole } from "./members";

export const INVITATION_TTL_DAYS = 7;

export type InvitationState = "pending" | "accepted" | "expired" | "revoked";

function invitationState(i: { acceptedAt: Date | null; revokedAt: Date | null; expiresAt: Date }, now = new Date()): InvitationState {
  if (i.acceptedAt) return "accepted";
  if (i.revokedAt) return "revoked";
  return i.expiresAt <= now ? "expired" : "pending";
}

export async function createInvitation(
  tx: Tx,
  audit: Audit,
  tenant: Tenant,
  input: { customerId?: string | null; email: string; role: Role; invitedByUserId: string },
) {
  const customerId = input.customerId ?? null;
  if (!canGrant(tenant.role, input.role)) throw forbidden(`Your role cannot grant ${input.role.replace("_", " ")}`);
  if (customerId && isMspRole(input.role)) throw badRequest("A customer user gets a customer role (customer_admin or customer_user)");
  if (!customerId && !isMspRole(input.role)) throw badRequest("Choose a customer for a customer role");
  const email = input.email.toLowerCase();
  const existing = await tx
    .select({ id: schema.memberships.id })
    .from(schema.memberships)
    .innerJoin(schema.users, eq(schema.users.id, schema.memberships.userId))
    .where(
      and(
        eq(schema.users.email, email),
        eq(schema.memberships.mspId, tenant.mspId),
        customerId ? eq(schema.memberships.customerId, customerId) : isNull(schema.memberships.customerId),
      ),
    );
  if (existing.length > 0) throw conflict(`${email} is already a member here`);

  const token = newToken();
  const expiresAt = new Date(Date.now() + INVITATION_TTL_DAYS * 86400_000);
  const [row] = await tx
    .insert(schema.invitations)
    .values({ mspId: tenant.mspId, customerId, email, role: input.role, tokenHash: hashToken(token), invitedByUserId: input.invitedByUserId, expiresAt })
    .returning();
  await audit({
    mspId: tenant.mspId,
    customerId,
    action: "invitation.create",
    targetType: "invitation",
    targetId: row!.id,
    metadata: { email, role: input.role },
  });
  return { invitation: row!, token };
}

/**
 * Sent after the invitation commits: SMTP is slow and PGlite has one
 * connection, so mail never goes out from inside a transaction. A failed send
 * leaves the invitation valid and the message (with its error) in the outbox.
 */
export async function sendInvitationEmail(
  db: Db,
  mailer: Mailer,
  opts: { invitationId: string; token: string; publicUrl: string; inviterEmail: string },
): Promise<{ emailStatus: "sent" | "captured" | "failed"; emailError?: string }> {
  const [row] = await db
    .select({ email: schema.invitations.email, role: schema.invitations.role, mspName: schema.msps.name, customerName: schema.customers.name })
    .from(schema.invitations)
    .innerJoin(schema.msps, eq(schema.msps.id, schema.invitations.mspId))
    .leftJoin(schema.customers, eq(schema.customers.id, schema.invitations.customerId))
    .where(eq(schema.invitations.id, opts.invitationId));
  const link = `${opts.publicUrl.replace(/\/$/, "")}/invite/${opts.token}`;
  const org = row!.customerName ? `${row!.customerName} (via ${row!.mspName})` : row!.mspName;
  try {
    await mailer.send({
      to: row!.email,
      subject: `You're invited to ${org} on Tidemark`,
      text: `${opts.inviterEmail} invited you to ${org} on Tidemark as ${row!.role.replace("_", " ")}.\n\nAccept: ${link}\n\nThe link works once and expires in ${INVITATION_TTL_DAYS} days.`,
      html: `<p>${escapeHtml(opts.inviterEmail)} invited you to <b>${escapeHtml(org)}</b> on Tidemark as ${escapeHtml(row!.role.replace("_", " "))}.</p><p><a href="${escapeHtml(link)}">Accept the invitation</a></p><p>The link works once and expires in ${INVITATION_TTL_DAYS} days.</p>`,
    });
    return { emailStatus: mailer.mode === "smtp" ? "sent" : "captured" };
  } catch (err) {
    return { emailStatus: "failed", emailError: err instanceof Error ? err.message : String(err) };
  }
}

export async function listInvitations(db: DbOrTx, scope: TenantScope) {
  const rows = await db
    .select({
      id: schema.invitations.id,
      email: schema.invitations.email,
      role: schema.invitations.role,
      mspId: schema.invitations.mspId,
      customerId: schema.invitations.customerId,
      customerName: schema.customers.name,
      expiresAt: schema.invitations.expiresAt,
      acceptedAt: schema.invitations.acceptedAt,
      revokedAt: schema.invitations.revokedAt,
      createdAt: schema.invitations.createdAt,
    })
    .from(schema.invitations)
    .leftJoin(schema.customers, eq(schema.customers.id, schema.invitations.customerId))
    .where(scopeTo(schema.invitations, scope))
    .orderBy(desc(schema.invitations.createdAt));
  const now = new Date();
  return rows.map((r) => ({ ...r, state: invitationState(r, now) }));
}

export async function revokeInvitation(tx: Tx, audit: Audit, tenant: Tenant, invitationId: string) {
  const [row] = await tx
    .select()
    .from(schema.invitations)
    .where(and(eq(schema.invitations.id, invitationId), scopeTo(schema.invitations, tenant.scope)));
  if (!row) throw notFound("Invitation");
  const state = invitationState(row);
  if (state !== "pending") throw badRequest(`This invitation is already ${state}`);
  await tx.update(schema.invitations).set({ revokedAt: new Date() }).where(eq(schema.invitations.id, invitationId));
  await audit({ mspId: row.mspId, customerId: row.customerId, action: "invitation.revoke", targetType: "invitation", targetId: invitationId, metadata: { email: row.email } });
  return { id: invitationId, state: "revoked" as const };
}

async function findByToken(db: DbOrTx, token: string) {
  const [row] = await db
    .select({ invitation: schema.invitations, mspName: schema.msps.name, customerName: schema.customers.name })
    .from(schema.invitations)
    .innerJoin(schema.msps, eq(schema.msps.id, schema.invitations.mspId))
    .leftJoin(schema.customers, eq(schema.customers.id, schema.invitations.customerId))
    .where(eq(schema.invitations.tokenHash, hashToken(token)));
  if (!row) throw notFound("Invitation");
  return row;
}

/** What the invite page shows before sign-in: the token is the credential, so only its holder sees this. */
export async function lookupInvitation(db: DbOrTx, token: string) {
  const { invitation: i, mspName, customerName } = await findByToken(db, token);
  return { email: i.email, orgName: customerName ?? mspName, mspName, customerName, role: i.role, expiresAt: i.expiresAt, state: invitationState(i) };
}

const refusal: Record<Exclude<InvitationState, "pending">, string> = {
  accepted: "This invitation has already been used",
  revoked: "This invitation was revoked",
  expired: "This invitation has expired",
};

export async function acceptInvitation(tx: Tx, audit: Audit, user: { id: string; email: string }, token: string) {
  const { invitation: i } = await findByToken(tx, token);
  const state = invitationState(i);
  if (state !== "pending") throw badRequest(`${refusal[state]}: ask for a new one`);
  if (i.email.toLowerCase() !== user.email.toLowerCase()) {
    throw forbidden(`This invitation is for ${i.email}; sign in with that address to accept it`);
  }
  // Conditional update: of two concurrent accepts only one claims the invitation.
  const [claimed] = await tx
    .update(schema.invitations)
    .set({ acceptedAt: new Date(), acceptedByUserId: user.id })
    .where(and(eq(schema.invitations.id, i.id), isNull(schema.invitations.acceptedAt), isNull(schema.invitations.revokedAt)))
    .returning({ id: schema.invitations.id });
  if (!claimed) throw badRequest(`${refusal.accepted}: ask for a new one`);
  const [membership] = await tx
    .insert(schema.memberships)
    .values({ userId: user.id, mspId: i.mspId, customerId: i.customerId, role: i.role })
    .onConflictDoNothing()
    .returning();
  if (!membership) throw conflict("You are already a member here");
  await audit({
    mspId: i.mspId,
    customerId: i.customerId,
    action: "invitation.accept",
    targetType: "invitation",
    targetId: i.id,
    metadata: { membershipId: membership.id, role: i.role },
  });
  return { mspId: i.mspId, customerId: i.customerId, role: i.role, membershipId: membership.id };
}
