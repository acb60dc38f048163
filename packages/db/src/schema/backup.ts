/**
 * The backup domain: what the agent API writes and the portal reads. Every
 * table is tenant-owned (customer_id + msp_id, both non-null) because the
 * customer is the dedup and encryption domain and nothing may cross it.
 */
import {
  bigint,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  unique,
  uuid,
} from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";
import { users } from "./auth";
import { createdAt, id, tstz, updatedAt } from "./columns";
import { machines } from "./machines";
import { customerRef, mspRef } from "./tenants";

/** postgres-js hands back Buffer, PGlite Uint8Array: normalise to Buffer. */
export const bytea = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType: () => "bytea",
  toDriver: (v) => v,
  fromDriver: (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v)),
});

/**
 * One data key per customer: 32 random bytes, stored only wrapped
 * (AES-256-GCM) by the service KEK named in kek_id. It also unlocks the
 * customer's repository in Azure (see docs/handoff-agent.md).
 */
export const customerKeys = pgTable(
  "customer_keys",
  {
    customerId: customerRef().primaryKey(),
    mspId: mspRef(),
    kekId: text("kek_id").notNull(),
    /** base64(nonce[12] | ciphertext[32] | tag[16]) */
    wrappedKey: text("wrapped_key").notNull(),
    /** The engine repository id (config.id) once the container was initialised. */
    repositoryId: text("repository_id"),
    /** The engine's repository config (chunker, pack size…), handed to agents at enrolment. */
    repositoryConfig: jsonb("repository_config").$type<Record<string, unknown>>(),
    repositoryInitializedAt: tstz("repository_initialized_at"),
    createdAt: createdAt(),
  },
  (t) => [index("customer_keys_msp_id_idx").on(t.mspId)],
);

/**
 * What the agent reports about itself, one row per machine. Kept apart from
 * `machines` so heartbeats (frequent writes) never touch the row people edit.
 */
export const machineAgents = pgTable(
  "machine_agents",
  {
    machineId: uuid("machine_id")
      .primaryKey()
      .references(() => machines.id, { onDelete: "cascade" }),
    mspId: mspRef(),
    customerId: customerRef().notNull(),
    hostname: text("hostname"),
    osVersion: text("os_version"),
    agentVersion: text("agent_version"),
    volumes: jsonb("volumes").$type<unknown[]>().notNull().default([]),
    freeBytes: bigint("free_bytes", { mode: "number" }),
    lastError: text("last_error"),
    /** Agent-reported extras (spool usage, queue depth…): shown, never interpreted. */
    status: jsonb("status").$type<Record<string, unknown>>().notNull().default({}),
    lastHeartbeatAt: tstz("last_heartbeat_at"),
    /** A revoked machine's credential is refused everywhere until it is re-enrolled with a new token. */
    revokedAt: tstz("revoked_at"),
    /** How many times the machine was enrolled (re-enrolment keeps the machine and its history). */
    enrollments: integer("enrollments").notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("machine_agents_msp_id_idx").on(t.mspId), index("machine_agents_customer_id_idx").on(t.customerId)],
);

/** A pack object in the customer's container, known to be durable (HEAD checked) before it is indexed. */
export const packs = pgTable(
  "packs",
  {
    mspId: mspRef(),
    customerId: customerRef().notNull(),
    /** SHA-256 of the pack bytes, hex: also its object name `data/<2>/<id>`. */
    packId: text("pack_id").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    /** Per-pack key salt (from the pack header): lets the server decrypt a ranged read. */
    salt: bytea("salt").notNull(),
    blobCount: integer("blob_count").notNull(),
    /** indexed → condemned (prune) → deleted. */
    state: text("state", { enum: ["indexed", "condemned"] }).notNull().default("indexed"),
    uploadedByMachineId: uuid("uploaded_by_machine_id").references(() => machines.id, { onDelete: "set null" }),
    /**
     * The agent's report is a claim until the worker has read the pack and opened every indexed
     * entry (GCM tag + keyed id): pending → verified, or bad (failing entries were unindexed).
     */
    verifyState: text("verify_state", { enum: ["pending", "verified", "bad"] }).notNull().default("pending"),
    verifiedAt: tstz("verified_at"),
    /**
     * The rolling scrub (issue 5): when the pack was last read back from the container and every
     * indexed entry opened, and what it found. null: never scrubbed yet (first in line).
     */
    scrubbedAt: tstz("scrubbed_at"),
    scrubState: text("scrub_state", { enum: ["ok", "corrupt", "missing"] }),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: "packs_pk", columns: [t.customerId, t.packId] }),
    // The scrub's pick: per customer, least recently scrubbed first (nulls first).
    index("packs_scrub_order_idx").on(t.customerId, t.scrubbedAt),
    index("packs_msp_id_idx").on(t.mspId),
    // The sweep's scan: only the few packs still waiting for the worker.
    index("packs_verify_pending_idx").on(t.createdAt).where(sql`${t.verifyState} = 'pending'`),
  ],
);

/**
 * The service's authoritative chunk index: keyed hash → where its sealed
 * bytes are. The primary key leads with customer_id, so dedup is per customer
 * across all of its machines, and a Citus deployment can distribute by it.
 *
 * No foreign keys here, unlike every other tenant table: this is the one table written at chunk
 * rate (60k rows for a 1.6 GB first backup), and the per-row checks of the msp and customer keys
 * plus the msp index were ~45 % of PostgreSQL's insert CPU. Rows are only written through the
 * server's PgIndex under an authenticated machine's scope (its customer exists); deleting a
 * customer (or, through customers, an MSP) still removes its rows: migration 0005's AFTER DELETE
 * trigger on customers does what the cascade did.
 */
export const chunkIndex = pgTable(
  "chunk_index",
  {
    mspId: uuid("msp_id").notNull(),
    customerId: uuid("customer_id").notNull(),
    chunkId: bytea("chunk_id").notNull(),
    packId: text("pack_id").notNull(),
    offset: bigint("offset", { mode: "number" }).notNull(),
    length: integer("length").notNull(),
    rawLength: integer("raw_length").notNull(),
    /** 0 data, 1 tree (the engine's BlobType). */
    type: smallint("type").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: "chunk_index_pk", columns: [t.customerId, t.chunkId] }),
    index("chunk_index_pack_idx").on(t.customerId, t.packId),
  ],
);

/** The machine a row belongs to; its rows go when the machine is deleted. */
const machineRef = () =>
  uuid("machine_id")
    .notNull()
    .references(() => machines.id, { onDelete: "cascade" });

export type PointStats = Record<string, number>;
export type PointError = { path: string; error: string };
/** Why a point is damaged: hex chunk ids that are bad or missing, and the files that need them. */
export type PointDamage = { chunkIds: string[]; files: string[]; detectedAt: string; healedAt?: string };

/** An immutable recovery point as committed by the agent. */
export const recoveryPoints = pgTable(
  "recovery_points",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef().notNull(),
    machineId: machineRef(),
    /** Generated by the agent: a retried commit finds the first one instead of making a second point. */
    clientPointId: text("client_point_id").notNull(),
    /** The engine's snapshot id (`snapshots/<id>` in the container), when the agent wrote one. */
    snapshotId: text("snapshot_id"),
    manifest: jsonb("manifest").$type<Record<string, unknown>>().notNull(),
    time: tstz("time").notNull(),
    consistency: text("consistency", { enum: ["crash", "application"] }).notNull(),
    stats: jsonb("stats").$type<PointStats>().notNull().default({}),
    errors: jsonb("errors").$type<PointError[]>().notNull().default([]),
    /**
     * ok → damaged (a chunk it needs is bad or missing in storage; `damage` lists them and the
     * files affected) → healed (every such chunk is indexed again in a verified pack).
     */
    health: text("health", { enum: ["ok", "damaged", "healed"] }).notNull().default("ok"),
    damage: jsonb("damage").$type<PointDamage>(),
    createdAt: createdAt(),
  },
  (t) => [
    index("recovery_points_damaged_idx").on(t.customerId).where(sql`${t.health} = 'damaged'`),
    unique("recovery_points_client_id_uq").on(t.machineId, t.clientPointId),
    index("recovery_points_msp_id_idx").on(t.mspId),
    index("recovery_points_customer_id_idx").on(t.customerId),
    index("recovery_points_machine_time_idx").on(t.machineId, t.time),
  ],
);

export const restoreJobStates = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type RestoreJobState = (typeof restoreJobStates)[number];

/** A restore-to-machine request: created by a person, claimed and executed by the machine's agent. */
export const restoreJobs = pgTable(
  "restore_jobs",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef().notNull(),
    /** The machine that executes the restore (may differ from the point's machine). */
    machineId: machineRef(),
    recoveryPointId: uuid("recovery_point_id")
      .notNull()
      .references(() => recoveryPoints.id, { onDelete: "cascade" }),
    paths: jsonb("paths").$type<string[]>().notNull(),
    /** null: original location. */
    destination: text("destination"),
    conflict: text("conflict", { enum: ["overwrite", "skip", "keep-both"] }).notNull(),
    state: text("state", { enum: restoreJobStates }).notNull().default("queued"),
    progress: jsonb("progress").$type<Record<string, unknown>>().notNull().default({}),
    result: jsonb("result").$type<Record<string, unknown>>(),
    requestedByUserId: text("requested_by_user_id").references(() => users.id, { onDelete: "set null" }),
    claimedAt: tstz("claimed_at"),
    finishedAt: tstz("finished_at"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("restore_jobs_msp_id_idx").on(t.mspId),
    index("restore_jobs_customer_id_idx").on(t.customerId),
    index("restore_jobs_machine_state_idx").on(t.machineId, t.state),
  ],
);

/** What the agent reports happened (unreadable file, spool full, VSS failure…). */
export const agentEvents = pgTable(
  "agent_events",
  {
    id: id(),
    mspId: mspRef(),
    customerId: customerRef().notNull(),
    machineId: machineRef(),
    time: tstz("time").notNull(),
    level: text("level", { enum: ["info", "warn", "error"] }).notNull(),
    kind: text("kind").notNull(),
    message: text("message").notNull(),
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    index("agent_events_msp_id_idx").on(t.mspId),
    index("agent_events_customer_id_idx").on(t.customerId),
    index("agent_events_machine_time_idx").on(t.machineId, t.time),
  ],
);
