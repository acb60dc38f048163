import { index, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns";
import { customerRef, mspRef } from "./tenants";

/**
 * Append-only. The actor's email is copied so the log still reads correctly
 * after the user is deleted (actor_user_id is deliberately not a foreign key).
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef(),
    actorUserId: text("actor_user_id"),
    actorEmail: text("actor_email"),
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id"),
    ip: text("ip"),
    userAgent: text("user_agent"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    index("audit_events_msp_id_created_at_idx").on(t.mspId, t.createdAt),
    index("audit_events_customer_id_idx").on(t.customerId),
  ],
);
