/**
 * Verification (issue 5): what the worker found by reading the customer's
 * container back — bad chunks awaiting self-heal, restore tests, repository
 * checks. Tenant-owned like every backup table (msp_id + customer_id).
 */
import { sql } from "drizzle-orm";
import { bigint, index, integer, jsonb, pgTable, primaryKey, text, uuid } from "drizzle-orm/pg-core";
import { bytea, recoveryPoints } from "./backup";
import { createdAt, id, tstz, updatedAt } from "./columns";
import { machines } from "./machines";
import { customerRef, mspRef } from "./tenants";

/**
 * A chunk whose stored bytes failed verification (corrupt) or whose pack is
 * gone (missing). While `healedAt` is null its id is sent to the customer's
 * agents as a heal request (heartbeat `healChunkIds`) and reported missing by
 * chunks/missing; it heals when a verified pack indexes it again.
 */
export const badChunks = pgTable(
  "bad_chunks",
  {
    mspId: mspRef(),
    customerId: customerRef().notNull(),
    chunkId: bytea("chunk_id").notNull(),
    /** The pack it was found bad in (it may since have been re-uploaded into another). */
    packId: text("pack_id").notNull(),
    reason: text("reason", { enum: ["corrupt", "missing"] }).notNull(),
    detectedAt: tstz("detected_at").notNull().defaultNow(),
    healedAt: tstz("healed_at"),
  },
  (t) => [
    primaryKey({ name: "bad_chunks_pk", columns: [t.customerId, t.chunkId] }),
    index("bad_chunks_msp_id_idx").on(t.mspId),
    index("bad_chunks_open_idx").on(t.customerId).where(sql`${t.healedAt} IS NULL`),
  ],
);

export type RestoreTestFinding = { path?: string; problem: string };

/** One verified-recovery run: a point restored into scratch space and checked. */
export const restoreTests = pgTable(
  "restore_tests",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef().notNull(),
    machineId: uuid("machine_id")
      .notNull()
      .references(() => machines.id, { onDelete: "cascade" }),
    recoveryPointId: uuid("recovery_point_id")
      .notNull()
      .references(() => recoveryPoints.id, { onDelete: "cascade" }),
    trigger: text("trigger", { enum: ["schedule", "manual"] }).notNull().default("schedule"),
    state: text("state", { enum: ["running", "passed", "failed"] }).notNull().default("running"),
    startedAt: tstz("started_at").notNull().defaultNow(),
    finishedAt: tstz("finished_at"),
    durationMs: integer("duration_ms"),
    files: integer("files").notNull().default(0),
    bytes: bigint("bytes", { mode: "number" }).notNull().default(0),
    /** Volume images: the filesystem check that ran (`e2fsck -fn`, `ntfsfix -n`) and its verdict. */
    fsChecks: jsonb("fs_checks").$type<{ volume: string; tool: string; ok: boolean; output: string }[]>().notNull().default([]),
    findings: jsonb("findings").$type<RestoreTestFinding[]>().notNull().default([]),
    createdAt: createdAt(),
  },
  (t) => [
    index("restore_tests_msp_id_idx").on(t.mspId),
    index("restore_tests_customer_id_idx").on(t.customerId),
    index("restore_tests_machine_started_idx").on(t.machineId, t.startedAt),
    index("restore_tests_point_idx").on(t.recoveryPointId),
  ],
);

/** A scheduled consistency check of the customer's index against its container. */
export const repositoryChecks = pgTable(
  "repository_checks",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef().notNull(),
    state: text("state", { enum: ["running", "passed", "failed"] }).notNull().default("running"),
    startedAt: tstz("started_at").notNull().defaultNow(),
    finishedAt: tstz("finished_at"),
    packsChecked: integer("packs_checked").notNull().default(0),
    chunksChecked: bigint("chunks_checked", { mode: "number" }).notNull().default(0),
    missingPacks: jsonb("missing_packs").$type<string[]>().notNull().default([]),
    findings: jsonb("findings").$type<{ problem: string; packId?: string }[]>().notNull().default([]),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("repository_checks_msp_id_idx").on(t.mspId), index("repository_checks_customer_started_idx").on(t.customerId, t.startedAt)],
);

/**
 * "Verify now" / "run a restore test now" from the portal. The API cannot reach the
 * worker's queue (it may run in another process), so it records the request here;
 * the worker polls for unclaimed requests every few seconds and runs them.
 */
export const verificationRequests = pgTable(
  "verification_requests",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef().notNull(),
    kind: text("kind", { enum: ["scrub", "restore_test", "repository_check"] }).notNull(),
    machineId: uuid("machine_id").references(() => machines.id, { onDelete: "cascade" }),
    recoveryPointId: uuid("recovery_point_id").references(() => recoveryPoints.id, { onDelete: "cascade" }),
    requestedByUserId: text("requested_by_user_id"),
    state: text("state", { enum: ["queued", "running", "done", "failed"] }).notNull().default("queued"),
    claimedAt: tstz("claimed_at"),
    finishedAt: tstz("finished_at"),
    /** What the run found (scrub: packs/bytes read, bad chunks; restore test: its id). */
    result: jsonb("result").$type<Record<string, unknown>>(),
    error: text("error"),
    createdAt: createdAt(),
  },
  (t) => [
    index("verification_requests_msp_id_idx").on(t.mspId),
    index("verification_requests_customer_id_idx").on(t.customerId),
    index("verification_requests_queued_idx").on(t.createdAt).where(sql`${t.state} = 'queued'`),
  ],
);
