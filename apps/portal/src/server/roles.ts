import { can, type Permission, type Role } from "@tidemark/auth/permissions";

type Membership = { kind: "msp" | "customer"; mspId: string; customerId?: string | null; role: Role | string };

/**
 * The role that applies to a customer page: an MSP membership covers all its
 * customers, otherwise the membership of that customer. Only used to hide
 * controls; the API checks every call itself.
 */
export function roleFor(memberships: Membership[], target: { mspId: string; customerId?: string }): Role | null {
  const msp = memberships.find((m) => m.kind === "msp" && m.mspId === target.mspId);
  if (msp) return msp.role as Role;
  const customer = target.customerId ? memberships.find((m) => m.kind === "customer" && m.customerId === target.customerId) : undefined;
  return (customer?.role as Role | undefined) ?? null;
}

export function allowed(role: Role | null, permission: Permission): boolean {
  return role !== null && can(role, permission);
}
