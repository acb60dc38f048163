/**
 * Every permission and which role holds it: the ONE file to read when asking
 * "who can do X". Procedures name a permission, never a role.
 */
import type { CustomerRole, MspRole, Role } from "@tidemark/db/schema";

export const permissions = [
  "msp.read",
  "msp.manage",
  "customers.read",
  "customers.write",
  "machines.read",
  "machines.enroll",
  "restores.request",
  "policies.read",
  "policies.write",
  "members.read",
  "members.invite",
  "members.manage",
  "audit.read",
  "files.browse",
  "files.download",
  "alerts.read",
  "alerts.manage",
  "alertChannels.manage",
] as const;
export type Permission = (typeof permissions)[number];

const read: Permission[] = ["msp.read", "customers.read", "machines.read", "policies.read", "members.read", "audit.read", "alerts.read"];
// alerts.manage: acknowledge and resolve alerts (the on-call technician's job).
const operate: Permission[] = [...read, "machines.enroll", "restores.request", "files.browse", "files.download", "alerts.manage"];
const administer: Permission[] = [
  ...operate,
  "customers.write",
  "policies.write",
  "members.invite",
  "members.manage",
  "alertChannels.manage",
];

export const rolePermissions: Record<Role, readonly Permission[]> = {
  owner: [...administer, "msp.manage"],
  admin: administer,
  technician: operate,
  read_only: read,
  // Customer roles act on their own customer only (enforced by the API's scope).
  customer_admin: ["customers.read", "machines.read", "restores.request", "files.browse", "files.download", "members.read", "members.invite", "members.manage", "audit.read", "alerts.read"],
  customer_user: ["customers.read", "machines.read", "files.browse", "files.download"],
};

export const mspRoles: readonly MspRole[] = ["owner", "admin", "technician", "read_only"];
export const customerRoles: readonly CustomerRole[] = ["customer_admin", "customer_user"];
export type { Role, MspRole, CustomerRole };

export function can(role: Role, permission: Permission): boolean {
  return rolePermissions[role].includes(permission);
}

/**
 * Who may hand out which role: nobody grants a role above their own, and only
 * an owner makes owners.
 */
const rank: Record<Role, number> = { owner: 4, admin: 3, technician: 2, read_only: 1, customer_admin: 2, customer_user: 1 };
export function canGrant(granter: Role, role: Role): boolean {
  const granterIsMsp = (mspRoles as readonly string[]).includes(granter);
  const roleIsMsp = (mspRoles as readonly string[]).includes(role);
  if (!granterIsMsp && roleIsMsp) return false;
  if (granterIsMsp && !roleIsMsp) return can(granter, "members.invite");
  return rank[granter] >= rank[role];
}
