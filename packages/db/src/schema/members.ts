import { sql } from "drizzle-orm";
import { check, index, pgTable, text, unique } from "drizzle-orm/pg-core";
import { users } from "./auth";
import { createdAt, id, tstz, updatedAt } from "./columns";
import { customerRef, mspRef } from "./tenants";

export const mspRoles = ["owner", "admin", "technician", "read_only"] as const;
export const customerRoles = ["customer_admin", "customer_user"] as const;
export const roles = [...mspRoles, ...customerRoles] as const;
export type MspRole = (typeof mspRoles)[number];
export type CustomerRole = (typeof customerRoles)[number];
export type Role = (typeof roles)[number];

const roleList = roles.map((r) => `'${r}'`).join(", ");
const mspRoleList = mspRoles.map((r) => `'${r}'`).join(", ");

/**
 * A user's role in an MSP (customer_id null: over all its customers) or in one
 * customer. The check keeps MSP roles off customer rows and vice versa.
 */
export const memberships = pgTable(
  "memberships",
  {
    id: id(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    mspId: mspRef(),
    customerId: customerRef(),
    role: text("role").$type<Role>().notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("memberships_user_id_idx").on(t.userId),
    index("memberships_msp_id_idx").on(t.mspId),
    index("memberships_customer_id_idx").on(t.customerId),
    unique("memberships_user_scope_uq").on(t.userId, t.mspId, t.customerId).nullsNotDistinct(),
    check("memberships_role_ck", sql.raw(`role in (${roleList})`)),
    check(
      "memberships_role_scope_ck",
      sql.raw(`(customer_id is null) = (role in (${mspRoleList}))`),
    ),
  ],
);

/** Only a SHA-256 of the emailed token is stored; the link itself is the credential. */
export const invitations = pgTable(
  "invitations",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef(),
    email: text("email").notNull(),
    role: text("role").$type<Role>().notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    invitedByUserId: text("invited_by_user_id").references(() => users.id, { onDelete: "set null" }),
    expiresAt: tstz("expires_at").notNull(),
    acceptedAt: tstz("accepted_at"),
    acceptedByUserId: text("accepted_by_user_id").references(() => users.id, { onDelete: "set null" }),
    revokedAt: tstz("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [
    index("invitations_msp_id_idx").on(t.mspId),
    index("invitations_customer_id_idx").on(t.customerId),
    check("invitations_role_ck", sql.raw(`role in (${roleList})`)),
    check("invitations_role_scope_ck", sql.raw(`(customer_id is null) = (role in (${mspRoleList}))`)),
  ],
);
