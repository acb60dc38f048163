import { canGrant, customerRoles, mspRoles } from "@tidemark/auth/permissions";
import { type DbOrTx, type TenantScope, type Tx, schema, scopeTo } from "@tidemark/db";
import type { Role } from "@tidemark/db/schema";
import { and, asc, count, eq, isNull } from "drizzle-orm";
import type { Audit } from "../audit";
import type { Tenant } from "../tenant";
import { badRequest, forbidden, notFound } from "./errors";

export const isMspRole = (r: Role) => (mspRoles as readonly string[]).includes(r);
export const isCustomerRole = (r: Role) => (customerRoles as readonly string[]).includes(r);

/** `{ customerId }` lists that customer's members; `{ mspId }` lists everyone in the MSP. */
export async function listMembers(db: DbOrTx, scope: TenantScope) {
  return db
    .select({
      id: schema.memberships.id,
      userId: schema.memberships.userId,
      email: schema.users.email,
      name: schema.users.name,
      mfaEnabled: schema.users.twoFactorEnabled,
      role: schema.memberships.role,
      mspId: schema.memberships.mspId,
      customerId: schema.memberships.customerId,
      customerName: schema.customers.name,
      createdAt: schema.memberships.createdAt,
    })
    .from(schema.memberships)
    .innerJoin(schema.users, eq(schema.users.id, schema.memberships.userId))
    .leftJoin(schema.customers, eq(schema.customers.id, schema.memberships.customerId))
    .where(scopeTo(schema.memberships, scope))
    .orderBy(asc(schema.memberships.customerId), asc(schema.users.email));
}

async function loadForChange(tx: Tx, tenant: Tenant, membershipId: string) {
  const [m] = await tx
    .select()
    .from(schema.memberships)
    .where(and(eq(schema.memberships.id, membershipId), scopeTo(schema.memberships, tenant.scope)));
  if (!m) throw notFound("Member");
  if (!canGrant(tenant.role, m.role)) throw forbidden(`Your role cannot change a member who is ${m.role.replace("_", " ")}`);
  return m;
}

/** Checked after the change, inside the transaction: an MSP must never be left without an owner. */
async function assertOwnerRemains(tx: Tx, mspId: string) {
  const [row] = await tx
    .select({ n: count() })
    .from(schema.memberships)
    .where(and(eq(schema.memberships.mspId, mspId), isNull(schema.memberships.customerId), eq(schema.memberships.role, "owner")));
  if (Number(row?.n ?? 0) === 0) throw badRequest("An MSP needs at least one owner: make someone else owner first");
}

export async function updateMemberRole(tx: Tx, audit: Audit, tenant: Tenant, membershipId: string, role: Role) {
  const m = await loadForChange(tx, tenant, membershipId);
  if (isMspRole(m.role) !== isMspRole(role)) {
    throw badRequest(m.customerId ? "Customer members can only have customer roles" : "MSP staff can only have MSP roles");
  }
  if (!canGrant(tenant.role, role)) throw forbidden(`Your role cannot grant ${role.replace("_", " ")}`);
  await tx.update(schema.memberships).set({ role }).where(eq(schema.memberships.id, membershipId));
  await audit({
    mspId: m.mspId,
    customerId: m.customerId,
    action: "member.update_role",
    targetType: "membership",
    targetId: membershipId,
    metadata: { userId: m.userId, from: m.role, to: role },
  });
  await assertOwnerRemains(tx, m.mspId);
  return { id: membershipId, role };
}

export async function removeMember(tx: Tx, audit: Audit, tenant: Tenant, membershipId: string) {
  const m = await loadForChange(tx, tenant, membershipId);
  await tx.delete(schema.memberships).where(eq(schema.memberships.id, membershipId));
  await audit({
    mspId: m.mspId,
    customerId: m.customerId,
    action: "member.remove",
    targetType: "membership",
    targetId: membershipId,
    metadata: { userId: m.userId, role: m.role },
  });
  await assertOwnerRemains(tx, m.mspId);
  return { id: membershipId };
}
