/**
 * The agent API, version 1: every route's request and response body as a zod
 * schema. The server validates requests with these and the agent validates
 * responses with them, so both ends share one definition of the wire.
 */
import { z } from "zod";

export const API_PREFIX = "/api/agent/v1";

/** Keyed SHA-256 chunk id, lower-case hex (engine format). */
/** At most this many heal requests per heartbeat: the rest follow on later heartbeats. */
export const MAX_HEAL_IDS = 10_000;
export const chunkIdSchema = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits");
/** Packs are named by the SHA-256 of their bytes. */
export const packIdSchema = chunkIdSchema;
export const isoTimeSchema = z.iso.datetime({ offset: true });
const shortText = (max: number) => z.string().min(1).max(max);

export const MAX_MISSING_QUERY = 10_000;
export const MIN_RPO_SECONDS = 5;
/** Upload SAS lifetime the server may grant at most. */
export const MAX_SAS_SECONDS = 3600;

// ── credential ──────────────────────────────────────────────────────────────
/** `tmm_<machineId>.<secret>`: the machine id lets the server find the hashed secret in one lookup. */
export const machineSecretSchema = z.string().regex(/^[A-Za-z0-9_-]{32,128}$/, "must be 32–128 base64url characters");
export const credentialSchema = z.string().regex(/^tmm_[0-9a-f-]{36}\.[A-Za-z0-9_-]{32,128}$/, "must look like tmm_<machineId>.<secret>");
export function formatCredential(machineId: string, secret: string): string {
  return credentialSchema.parse(`tmm_${machineId}.${secret}`);
}
export function parseCredential(header: string | undefined | null): { machineId: string; secret: string } | null {
  const m = /^Bearer (tmm_([0-9a-f-]{36})\.([A-Za-z0-9_-]{32,128}))$/.exec(header ?? "");
  if (!m || !z.uuid().safeParse(m[2]).success) return null;
  return { machineId: m[2]!, secret: m[3]! };
}

// ── policy ──────────────────────────────────────────────────────────────────
export const retentionSchema = z.object({
  /** Every point younger than this is kept. */
  keepAllHours: z.number().int().min(0).max(24 * 366).default(24),
  keepHourly: z.number().int().min(0).max(100_000).default(48),
  keepDaily: z.number().int().min(0).max(100_000).default(30),
  keepWeekly: z.number().int().min(0).max(100_000).default(12),
  keepMonthly: z.number().int().min(0).max(100_000).default(24),
  keepYearly: z.number().int().min(0).max(1000).default(5),
});

export const policySchema = z.object({
  rpoSeconds: z.number().int().min(MIN_RPO_SECONDS).max(86_400).default(60),
  /** Absolute paths. Empty → nothing file-level is protected. */
  includePaths: z.array(z.string().min(1).max(4096)).max(1000).default([]),
  /** Absolute path prefixes left out (a path and everything below it). */
  excludePaths: z.array(z.string().min(1).max(4096)).max(1000).default([]),
  /** Block devices / image files (Linux) or volumes like "C:" (Windows: imaged from the cycle's VSS shadow device). */
  volumes: z.array(z.string().min(1).max(4096)).max(64).default([]),
  volumeIntervalSeconds: z.number().int().min(60).max(30 * 86_400).default(3600),
  rescanEveryHours: z.number().min(0.01).max(24 * 30).default(6),
  spoolLimitBytes: z.number().int().min(16 * 1024 * 1024).default(10 * 1024 ** 3),
  preFreezeCommand: z.string().min(1).max(4096).optional(),
  postThawCommand: z.string().min(1).max(4096).optional(),
  hookTimeoutSeconds: z.number().int().min(1).max(3600).default(60),
  /**
   * Windows: read each cycle from a VSS shadow copy (one consistent instant per volume).
   * The agent makes them through WMI (Win32_ShadowCopy.Create, ClientAccessible context),
   * which runs no VSS writers: such a point is crash-consistent. Application consistency
   * comes only from the pre-freeze / post-thaw hooks succeeding.
   */
  vss: z.boolean().default(true),
  retention: retentionSchema.default(() => retentionSchema.parse({})),
});
export type Policy = z.infer<typeof policySchema>;

// ── routes ──────────────────────────────────────────────────────────────────
export const osSchema = z.object({
  platform: z.enum(["win32", "linux", "darwin", "other"]),
  release: shortText(200),
  arch: shortText(32),
});

/** What the agent needs to write packs its customer's other machines can dedup against. */
export const repositoryConfigSchema = z.object({
  id: shortText(64),
  chunker: z.object({ min: z.number().int().positive(), avg: z.number().int().positive(), max: z.number().int().positive() }),
  packSize: z.number().int().positive(),
  zstdLevel: z.number().int().min(0).max(19),
  blockSize: z.number().int().min(4096),
});

export const enrollRequestSchema = z.object({
  token: shortText(512),
  name: shortText(200),
  hostname: shortText(255),
  os: osSchema,
  agentVersion: shortText(64),
});
export const enrollResponseSchema = z.object({
  machineId: z.uuid(),
  machineSecret: machineSecretSchema,
  customerId: z.uuid(),
  /** The customer's repository master key, base64 (32 bytes). */
  dataKey: z.base64().refine((s) => Buffer.from(s, "base64").length === 32, "must decode to 32 bytes"),
  repository: z.object({ container: shortText(63), blobEndpoint: z.url(), config: repositoryConfigSchema }),
  policy: policySchema,
  /**
   * The ETag GET policy gives for `policy`: the agent stores it and its first
   * heartbeat finds nothing to fetch. Optional: servers before it omit it (the
   * agent then fetches the policy once).
   */
  policyEtag: shortText(200).optional(),
});

export const volumeInfoSchema = z.object({
  path: shortText(4096),
  fs: z.string().max(64).optional(),
  sizeBytes: z.number().int().nonnegative(),
  freeBytes: z.number().int().nonnegative(),
});
export const heartbeatRequestSchema = z.object({
  agentVersion: shortText(64),
  os: osSchema,
  hostname: shortText(255),
  volumes: z.array(volumeInfoSchema).max(256),
  freeBytes: z.number().int().nonnegative(),
  /** Changes seen but not yet in a committed point (files + queued uploads). */
  pendingChanges: z.number().int().nonnegative(),
  lastError: z.string().max(4000).optional(),
});
export const heartbeatResponseSchema = z.object({
  serverTime: isoTimeSchema,
  /** The current policy ETag: a change tells the agent to re-fetch. */
  policyEtag: shortText(200),
  /**
   * Self-heal: chunks the server found corrupt or missing in storage. The agent re-reads the
   * files that contain them on its next cycle and uploads them again even if it believes they are
   * stored. Empty when nothing needs healing; older servers omit it.
   */
  healChunkIds: z.array(chunkIdSchema).max(MAX_HEAL_IDS).default([]),
});

export const policyResponseSchema = z.object({ etag: shortText(200), policy: policySchema });

export const uploadSessionResponseSchema = z.object({
  sasUrl: z.url(),
  container: shortText(63),
  expiresAt: isoTimeSchema,
});

export const missingRequestSchema = z.object({ ids: z.array(chunkIdSchema).min(1).max(MAX_MISSING_QUERY) });
export const missingResponseSchema = z.object({ missing: z.array(chunkIdSchema) });

export const packEntrySchema = z.object({
  id: chunkIdSchema,
  /** 0 = data, 1 = tree (engine BLOB_DATA / BLOB_TREE). */
  type: z.union([z.literal(0), z.literal(1)]),
  offset: z.number().int().min(40),
  length: z.number().int().positive(),
  rawLength: z.number().int().nonnegative(),
});
export const packReportSchema = z
  .object({
    packId: packIdSchema,
    size: z.number().int().positive(),
    /** base64 per-pack key salt (32 bytes): lets the server read one blob with a ranged GET. */
    salt: z.base64().refine((s) => Buffer.from(s, "base64").length === 32, "must decode to 32 bytes"),
    entries: z.array(packEntrySchema).min(1).max(1_000_000),
  })
  .superRefine((p, ctx) => {
    for (const [i, e] of p.entries.entries()) {
      if (e.offset + e.length > p.size) ctx.addIssue({ code: "custom", path: ["entries", i, "length"], message: "entry runs past the end of the pack" });
    }
  });
export const packResponseSchema = z.object({ indexed: z.number().int().nonnegative() });

export const pointErrorSchema = z.object({ path: z.string().max(4096), error: z.string().max(1000) });
export const pointManifestSchema = z.object({
  time: isoTimeSchema,
  host: shortText(255),
  /** Captured source paths. */
  sources: z.array(z.string().min(1).max(4096)).max(1000),
  rootTree: chunkIdSchema,
  volumes: z.array(z.object({ source: z.string().min(1), name: z.string().min(1), size: z.number().int().nonnegative(), blockSize: z.number().int().positive(), map: chunkIdSchema })),
  /**
   * "application" only when the policy's pre-freeze hook (and its post-thaw hook, when set)
   * succeeded; otherwise "crash" — also for a point read from a VSS shadow (no writers run).
   */
  consistency: z.enum(["crash", "application"]),
  stats: z.object({
    files: z.number().int().nonnegative(),
    dirs: z.number().int().nonnegative(),
    bytes: z.number().nonnegative(),
    readBytes: z.number().nonnegative(),
    newChunks: z.number().int().nonnegative(),
    newBytes: z.number().nonnegative(),
    storedBytes: z.number().nonnegative(),
    durationMs: z.number().nonnegative(),
  }),
  errors: z.array(pointErrorSchema).max(100_000),
  /** Name of the sealed manifest in the container (`snapshots/<id>`), written before the commit. */
  snapshotId: chunkIdSchema,
});
export const commitPointRequestSchema = z.object({
  clientPointId: z.uuid(),
  manifest: pointManifestSchema,
  /** Every chunk the point references that the server should check (optional: the server may walk trees itself). */
  chunkIds: z.array(chunkIdSchema).max(5_000_000).optional(),
});
export const commitPointResponseSchema = z.object({ pointId: z.uuid() });

export const restoreJobSchema = z.object({
  id: z.uuid(),
  pointId: z.uuid(),
  snapshotId: chunkIdSchema,
  /** Paths inside the point; empty → everything. */
  paths: z.array(z.string().min(1).max(4096)).max(10_000),
  destination: z.discriminatedUnion("kind", [z.object({ kind: z.literal("original") }), z.object({ kind: z.literal("folder"), path: z.string().min(1).max(4096) })]),
  conflict: z.enum(["overwrite", "skip", "keep-both"]),
  /** Read-only SAS on the customer's container for this job. */
  readSasUrl: z.url(),
  expiresAt: isoTimeSchema,
});
export const nextRestoreJobResponseSchema = z.object({ job: restoreJobSchema.nullable() });
export const restoreProgressRequestSchema = z.object({
  bytesDone: z.number().int().nonnegative(),
  filesDone: z.number().int().nonnegative(),
  bytesTotal: z.number().int().nonnegative(),
  filesTotal: z.number().int().nonnegative(),
});
export const restoreResultRequestSchema = z.object({
  ok: z.boolean(),
  restoredFiles: z.number().int().nonnegative(),
  failed: z.array(pointErrorSchema).max(100_000),
});

export const eventSchema = z.object({
  time: isoTimeSchema,
  level: z.enum(["info", "warn", "error"]),
  kind: z.enum(["unreadable-file", "upload-retry", "point-committed", "hook-failed", "vss-failed", "spool-full", "restore", "error", "started", "stopped"]),
  message: z.string().min(1).max(4000),
  path: z.string().max(4096).optional(),
});
export const eventsRequestSchema = z.object({ events: z.array(eventSchema).min(1).max(1000) });
export const okResponseSchema = z.object({ ok: z.literal(true) });

/** Every error body: `{ error: { code, message, missing? } }`. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** 409 on commit point: chunk ids the server has not indexed. */
    missing: z.array(chunkIdSchema).optional(),
  }),
});

export type EnrollRequest = z.infer<typeof enrollRequestSchema>;
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;
export type RepositoryConfig = z.infer<typeof repositoryConfigSchema>;
export type HeartbeatRequest = z.infer<typeof heartbeatRequestSchema>;
export type HeartbeatResponse = z.infer<typeof heartbeatResponseSchema>;
export type PolicyResponse = z.infer<typeof policyResponseSchema>;
export type UploadSession = z.infer<typeof uploadSessionResponseSchema>;
export type PackReport = z.infer<typeof packReportSchema>;
export type PointManifest = z.infer<typeof pointManifestSchema>;
export type CommitPointRequest = z.infer<typeof commitPointRequestSchema>;
export type RestoreJob = z.infer<typeof restoreJobSchema>;
export type RestoreProgressReport = z.infer<typeof restoreProgressRequestSchema>;
export type RestoreResultReport = z.infer<typeof restoreResultRequestSchema>;
export type AgentEvent = z.infer<typeof eventSchema>;
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** The route table: one place that names method, path and body schemas (servers can mount from it). */
export const routes = {
  enroll: { method: "POST", path: "/enroll", auth: false, request: enrollRequestSchema, response: enrollResponseSchema },
  heartbeat: { method: "POST", path: "/heartbeat", auth: true, request: heartbeatRequestSchema, response: heartbeatResponseSchema },
  policy: { method: "GET", path: "/policy", auth: true, request: null, response: policyResponseSchema },
  uploadSession: { method: "POST", path: "/upload-session", auth: true, request: null, response: uploadSessionResponseSchema },
  chunksMissing: { method: "POST", path: "/chunks/missing", auth: true, request: missingRequestSchema, response: missingResponseSchema },
  packs: { method: "POST", path: "/packs", auth: true, request: packReportSchema, response: packResponseSchema },
  points: { method: "POST", path: "/points", auth: true, request: commitPointRequestSchema, response: commitPointResponseSchema },
  nextRestoreJob: { method: "GET", path: "/restore-jobs/next", auth: true, request: null, response: nextRestoreJobResponseSchema },
  restoreProgress: { method: "POST", path: "/restore-jobs/:id/progress", auth: true, request: restoreProgressRequestSchema, response: okResponseSchema },
  restoreResult: { method: "POST", path: "/restore-jobs/:id/result", auth: true, request: restoreResultRequestSchema, response: okResponseSchema },
  events: { method: "POST", path: "/events", auth: true, request: eventsRequestSchema, response: okResponseSchema },
} as const;
