/**
 * Alerts (issue 5): conditions raised by the worker, routed to channels.
 * Everything is owned by an MSP; customer_id/machine_id narrow it when the
 * condition is about one customer or machine.
 */
import { sql } from "drizzle-orm";
import { boolean, index, integer, jsonb, pgTable, text, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { users } from "./auth";
import { createdAt, id, tstz, updatedAt } from "./columns";
import { machines } from "./machines";
import { customerRef, mspRef } from "./tenants";

export const alertConditions = [
  "corruption",
  "restore_test_failed",
  "point_damaged",
  "agent_offline",
  "rpo_missed",
  "capture_error",
  "storage_quota",
] as const;
export type AlertCondition = (typeof alertConditions)[number];
export const alertSeverities = ["critical", "warning", "info"] as const;
export type AlertSeverity = (typeof alertSeverities)[number];
export const alertStates = ["open", "acknowledged", "resolved"] as const;
export type AlertState = (typeof alertStates)[number];

export const alerts = pgTable(
  "alerts",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef(),
    machineId: uuid("machine_id").references(() => machines.id, { onDelete: "cascade" }),
    condition: text("condition", { enum: alertConditions }).notNull(),
    severity: text("severity", { enum: alertSeverities }).notNull(),
    state: text("state", { enum: alertStates }).notNull().default("open"),
    /**
     * condition + subject (e.g. `agent_offline:<machineId>`): at most one alert per key is not
     * resolved (partial unique index), so a condition that persists updates its alert instead of
     * flooding.
     */
    dedupeKey: text("dedupe_key").notNull(),
    title: text("title").notNull(),
    /** Condition-specific facts shown in the portal and the messages (files, points, packs…). */
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
    /** How many times the condition was seen while this alert stayed open. */
    occurrences: integer("occurrences").notNull().default(1),
    openedAt: tstz("opened_at").notNull().defaultNow(),
    lastSeenAt: tstz("last_seen_at").notNull().defaultNow(),
    acknowledgedAt: tstz("acknowledged_at"),
    acknowledgedBy: text("acknowledged_by").references(() => users.id, { onDelete: "set null" }),
    resolvedAt: tstz("resolved_at"),
    /** null with resolvedAt set: resolved automatically because the condition cleared. */
    resolvedBy: text("resolved_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("alerts_one_unresolved_uq").on(t.mspId, t.dedupeKey).where(sql`${t.state} <> 'resolved'`),
    index("alerts_msp_state_idx").on(t.mspId, t.state, t.openedAt),
    index("alerts_customer_id_idx").on(t.customerId),
    index("alerts_machine_id_idx").on(t.machineId),
  ],
);

export const alertChannelKinds = ["email", "sms", "webhook"] as const;
export type AlertChannelKind = (typeof alertChannelKinds)[number];

/**
 * Where alerts go. customer_id null: the MSP's default for every customer;
 * set: that customer's override (for its kind, it replaces the MSP default).
 */
export const alertChannels = pgTable(
  "alert_channels",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef(),
    kind: text("kind", { enum: alertChannelKinds }).notNull(),
    name: text("name").notNull(),
    /** email: addresses; sms: E.164 numbers; webhook: one URL. */
    targets: jsonb("targets").$type<string[]>().notNull(),
    /** Webhook signing secret, encrypted with the service KEK (never stored or returned in clear). */
    secretEncrypted: text("secret_encrypted"),
    /** Alerts below this severity are not sent on this channel. */
    minSeverity: text("min_severity", { enum: alertSeverities }).notNull().default("warning"),
    enabled: boolean("enabled").notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("alert_channels_msp_id_idx").on(t.mspId), index("alert_channels_customer_id_idx").on(t.customerId)],
);

/** One attempt-tracked message of one alert event on one channel: the delivery log. */
export const alertDeliveries = pgTable(
  "alert_deliveries",
  {
    id: id(),
    mspId: mspRef(),
    /** null for a "send test" message. */
    alertId: uuid("alert_id").references(() => alerts.id, { onDelete: "cascade" }),
    channelId: uuid("channel_id")
      .notNull()
      .references(() => alertChannels.id, { onDelete: "cascade" }),
    /** "escalated": the open alert's severity went up (text column: no migration for a new value). */
    event: text("event", { enum: ["opened", "escalated", "resolved", "test"] }).notNull(),
    state: text("state", { enum: ["pending", "sent", "failed"] }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    /** HTTP status of the last attempt (SMS, webhook) when there was one. */
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    nextAttemptAt: tstz("next_attempt_at"),
    sentAt: tstz("sent_at"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("alert_deliveries_msp_created_idx").on(t.mspId, t.createdAt),
    index("alert_deliveries_alert_id_idx").on(t.alertId),
    index("alert_deliveries_channel_id_idx").on(t.channelId),
  ],
);
