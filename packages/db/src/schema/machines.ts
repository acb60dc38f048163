import { index, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { users } from "./auth";
import { createdAt, id, tstz, updatedAt } from "./columns";
import { customerRef, mspRef } from "./tenants";

/** A protected server. msp_id is denormalised so MSP-wide queries need no join. */
export const machines = pgTable(
  "machines",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef().notNull(),
    name: text("name").notNull(),
    os: text("os").notNull(),
    agentVersion: text("agent_version"),
    lastSeenAt: tstz("last_seen_at"),
    /** Hash of the machine's bearer credential; the agent keeps the secret. */
    secretHash: text("secret_hash"),
    enrolledAt: tstz("enrolled_at").notNull().defaultNow(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("machines_msp_id_idx").on(t.mspId), index("machines_customer_id_idx").on(t.customerId)],
);

/** Single-use, expiring; only a SHA-256 of the token is stored. */
export const enrollmentTokens = pgTable(
  "enrollment_tokens",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef().notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    createdByUserId: text("created_by_user_id").references(() => users.id, { onDelete: "set null" }),
    expiresAt: tstz("expires_at").notNull(),
    usedAt: tstz("used_at"),
    usedByMachineId: uuid("used_by_machine_id").references(() => machines.id, { onDelete: "set null" }),
    revokedAt: tstz("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [
    index("enrollment_tokens_msp_id_idx").on(t.mspId),
    index("enrollment_tokens_customer_id_idx").on(t.customerId),
  ],
);
