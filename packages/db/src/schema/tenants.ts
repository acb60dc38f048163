import { bigint, boolean, index, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { createdAt, id, updatedAt } from "./columns";

export const msps = pgTable("msps", {
  id: id(),
  name: text("name").notNull(),
  /** When set, MSP users without TOTP are refused by every MSP procedure except MFA enrolment. */
  requireMfa: boolean("require_mfa").notNull().default(false),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** Tenant keys: deleting an MSP or customer takes everything it owns with it. */
export const mspRef = () =>
  uuid("msp_id")
    .notNull()
    .references(() => msps.id, { onDelete: "cascade" });

export const customers = pgTable(
  "customers",
  {
    id: id(),
    mspId: mspRef(),
    name: text("name").notNull(),
    /** Bytes stored in the customer's container above which a quota alert opens; null: no quota. */
    storageQuotaBytes: bigint("storage_quota_bytes", { mode: "number" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("customers_msp_id_idx").on(t.mspId)],
);

export const customerRef = () => uuid("customer_id").references(() => customers.id, { onDelete: "cascade" });
