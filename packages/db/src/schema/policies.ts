import { sql } from "drizzle-orm";
import { bigint, boolean, check, index, integer, jsonb, pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { createdAt, id, updatedAt } from "./columns";
import { machines } from "./machines";
import { customerRef, mspRef } from "./tenants";

/** GFS retention: how many points of each granularity survive pruning. */
export type Retention = {
  keepWithinHours: number;
  hourly: number;
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
};

export const policies = pgTable(
  "policies",
  {
    id: id(),
    mspId: mspRef(),
    name: text("name").notNull(),
    rpoSeconds: integer("rpo_seconds").notNull().default(60),
    includePaths: jsonb("include_paths").$type<string[]>().notNull().default([]),
    excludePaths: jsonb("exclude_paths").$type<string[]>().notNull().default([]),
    volumes: jsonb("volumes").$type<string[]>().notNull().default([]),
    retention: jsonb("retention").$type<Retention>().notNull(),
    restoreTestEveryHours: integer("restore_test_every_hours").notNull().default(24),
    rescanEveryHours: integer("rescan_every_hours").notNull().default(24),
    spoolLimitBytes: bigint("spool_limit_bytes", { mode: "number" }).notNull().default(10 * 1024 ** 3),
    /** Volume images are taken on their own, slower interval than file capture. */
    volumeIntervalSeconds: integer("volume_interval_seconds").notNull().default(3600),
    /** Windows: a VSS snapshot per cycle (application-consistent points). */
    vss: boolean("vss").notNull().default(true),
    /** Run on the machine before the snapshot / after it (e.g. flush a database); null: none. */
    preFreezeCommand: text("pre_freeze_command"),
    postThawCommand: text("post_thaw_command"),
    hookTimeoutSeconds: integer("hook_timeout_seconds").notNull().default(60),
    /** Every pack of the customer's container is read and verified at least once per this period. */
    scrubPeriodDays: integer("scrub_period_days").notNull().default(7),
    /** Index ↔ container consistency check (every indexed chunk's pack exists). */
    repoCheckEveryHours: integer("repo_check_every_hours").notNull().default(24),
    /** Alert thresholds: agent silent this long → offline; no point within factor × RPO → RPO missed. */
    offlineAlertMinutes: integer("offline_alert_minutes").notNull().default(30),
    rpoMissedFactor: integer("rpo_missed_factor").notNull().default(3),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("policies_msp_id_idx").on(t.mspId), check("policies_rpo_min_ck", sql`${t.rpoSeconds} >= 5`)],
);

/**
 * Which policy applies: a row with machine_id null is the customer's default; a
 * row with machine_id overrides it for that machine. One row per target.
 */
export const policyAssignments = pgTable(
  "policy_assignments",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef().notNull(),
    machineId: uuid("machine_id").references(() => machines.id, { onDelete: "cascade" }),
    policyId: uuid("policy_id")
      .notNull()
      .references(() => policies.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("policy_assignments_msp_id_idx").on(t.mspId),
    index("policy_assignments_customer_id_idx").on(t.customerId),
    index("policy_assignments_policy_id_idx").on(t.policyId),
    unique("policy_assignments_target_uq").on(t.customerId, t.machineId).nullsNotDistinct(),
  ],
);
