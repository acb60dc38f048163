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

const CHUNK_ID_HEX = 64;
/**
 * Lower-case hex digits only, exactly as strict as /^[0-9a-f]*$/: hex → bytes → hex gives back only
 * [0-9a-f] and is the identity on lower-case hex, so equality holds exactly for such strings. On
 * multi-MB id lists it costs ~4 ms per 3 MB where the regex costs ~10 ms. An odd length's last
 * digit is checked on its own (the whole-id-count check reports that string, not this one).
 */
export function isLowerHex(s: string): boolean {
  const even = s.length - (s.length % 2);
  const head = even === s.length ? s : s.slice(0, even);
  if (Buffer.from(head, "hex").toString("hex") !== head) return false;
  return even === s.length || /^[0-9a-f]$/.test(s.charAt(even));
}
/**
 * Chunk ids as one string, 64 lower-case hex digits each, concatenated: one check over the string
 * instead of one per id (an array of 60k ids cost ~50 ms CPU per run on each side, in zod alone).
 */
function hexIdsSchema(min: number, max: number) {
  const s = z.string().max(CHUNK_ID_HEX * max, `must hold at most ${max} ids`);
  return (min > 0 ? s.min(CHUNK_ID_HEX * min, min === 1 ? "must hold at least one 64-hex-digit id" : `must hold at least ${min} ids`) : s)
    .refine(isLowerHex, "must be lower-case hex digits only")
    .refine((v) => v.length % CHUNK_ID_HEX === 0, "must be a whole number of 64-hex-digit ids");
}
/** The ids of a validated concatenated-hex string (hexIdsSchema). */
export function splitHexIds(s: string): string[] {
  const out: string[] = new Array(s.length / CHUNK_ID_HEX);
  for (let i = 0; i < out.length; i++) out[i] = s.slice(i * CHUNK_ID_HEX, (i + 1) * CHUNK_ID_HEX);
  return out;
}
/** Exactly one of two optional fields (the old array form and its concatenated-hex twin). */
function exactlyOne(a: string, b: string) {
  return (v: Record<string, unknown>, ctx: z.core.$RefinementCtx) => {
    if ((v[a] === undefined) === (v[b] === undefined)) ctx.addIssue({ code: "custom", path: [v[a] === undefined ? a : b], message: `exactly one of ${a} and ${b} must be given` });
  };
}

/** `ids` (an array, older agents) or `idsHex` (concatenated); the answer comes in the same form. */
export const missingRequestSchema = z
  .object({ ids: z.array(chunkIdSchema).min(1).max(MAX_MISSING_QUERY).optional(), idsHex: hexIdsSchema(1, MAX_MISSING_QUERY).optional() })
  .superRefine(exactlyOne("ids", "idsHex"));
export type MissingRequest = z.infer<typeof missingRequestSchema>;
/** `missing` answers `ids`, `missingHex` answers `idsHex`. */
export const missingResponseSchema = z
  .object({ missing: z.array(chunkIdSchema).optional(), missingHex: hexIdsSchema(0, MAX_MISSING_QUERY).optional() })
  .superRefine(exactlyOne("missing", "missingHex"));
/** The ids of a validated request or answer, whichever form it came in. */
export const missingRequestIds = (r: MissingRequest): string[] => r.ids ?? splitHexIds(r.idsHex!);
export const missingResponseIds = (r: z.infer<typeof missingResponseSchema>): string[] => r.missing ?? splitHexIds(r.missingHex!);

export const packEntrySchema = z.object({
  id: chunkIdSchema,
  /** 0 = data, 1 = tree (engine BLOB_DATA / BLOB_TREE). */
  type: z.union([z.literal(0), z.literal(1)]),
  offset: z.number().int().min(40),
  length: z.number().int().positive(),
  rawLength: z.number().int().nonnegative(),
});
/** At most this many entries in one pack report (either form). */
export const MAX_PACK_ENTRIES = 1_000_000;
/**
 * An array of safe integers ≥ min, checked by one loop: `z.array(z.number().int())` costs ~50 ns
 * per element (0.5 ms per 10k-entry column, measured), the loop ~1 ns. Bad elements are named
 * by index, like zod's own array issues.
 */
function intColumn(min: number, message: string) {
  return z.custom<number[]>((v) => Array.isArray(v), "must be an array of integers").superRefine((xs, ctx) => {
    if (xs.length > MAX_PACK_ENTRIES) {
      ctx.addIssue({ code: "custom", message: `must hold at most ${MAX_PACK_ENTRIES} values` });
      return;
    }
    let bad = 0;
    for (let i = 0; i < xs.length; i++) {
      const x: unknown = xs[i];
      if (typeof x === "number" && Number.isSafeInteger(x) && x >= min) continue;
      ctx.addIssue({ code: "custom", path: [i], message: `${message}, got ${JSON.stringify(x) ?? String(x)}` });
      // A wholly wrong column would otherwise build a million issues.
      if (++bad >= 10) return;
    }
  });
}
/**
 * The same entries as columns: ten thousand per-entry objects cost both ends a JSON object and a
 * zod object check each (~0.7 CPU-s on the server per 60k chunks); one hex string and three
 * number arrays are parsed natively and checked by one regex and three flat array checks.
 */
export const packColumnsSchema = z
  .object({
    /** Every entry's chunk id, 64 lower-case hex digits each, concatenated. */
    ids: hexIdsSchema(1, MAX_PACK_ENTRIES),
    /** One character per entry: "0" = data, "1" = tree. */
    types: z.string().regex(/^[01]*$/, 'must be one "0" (data) or "1" (tree) per entry'),
    offsets: intColumn(40, "must be an integer of at least 40 (past the pack header)"),
    lengths: intColumn(1, "must be a positive integer"),
    rawLengths: intColumn(0, "must be a non-negative integer"),
  })
  .superRefine((c, ctx) => {
    // zod runs refinements after failed checks too: a bad ids string is reported once, by itself.
    if (c.ids.length === 0 || c.ids.length % CHUNK_ID_HEX !== 0) return;
    const n = c.ids.length / CHUNK_ID_HEX;
    const columns = { types: c.types.length, offsets: c.offsets.length, lengths: c.lengths.length, rawLengths: c.rawLengths.length };
    for (const [field, len] of Object.entries(columns)) {
      if (len !== n) ctx.addIssue({ code: "custom", path: [field], message: `has ${len} entries but ids has ${n}: every column needs one value per id` });
    }
  });
export type PackColumns = z.infer<typeof packColumnsSchema>;

export const packReportSchema = z
  .object({
    packId: packIdSchema,
    size: z.number().int().positive(),
    /** base64 per-pack key salt (32 bytes): lets the server read one blob with a ranged GET. */
    salt: z.base64().refine((s) => Buffer.from(s, "base64").length === 32, "must decode to 32 bytes"),
    /** The original form: still accepted, so agents before `columns` keep working. */
    entries: z.array(packEntrySchema).min(1).max(MAX_PACK_ENTRIES).optional(),
    columns: packColumnsSchema.optional(),
  })
  .superRefine((p, ctx) => {
    if ((p.entries === undefined) === (p.columns === undefined)) {
      exactlyOne("entries", "columns")(p, ctx);
      return;
    }
    if (p.entries) {
      for (const [i, e] of p.entries.entries()) {
        if (e.offset + e.length > p.size) ctx.addIssue({ code: "custom", path: ["entries", i, "length"], message: "entry runs past the end of the pack" });
      }
    } else if (p.columns) {
      const { offsets, lengths } = p.columns;
      for (let i = 0; i < Math.min(offsets.length, lengths.length); i++) {
        const [o, l]: unknown[] = [offsets[i], lengths[i]];
        // Values the column check refused are reported there, not again here.
        if (typeof o === "number" && typeof l === "number" && o + l > p.size) ctx.addIssue({ code: "custom", path: ["columns", "lengths", i], message: `entry ${i} runs past the end of the pack` });
      }
    }
  });
export type PackEntry = z.infer<typeof packEntrySchema>;

/** Builds the columnar form from entries (the agent's side). */
export function packColumns(entries: ReadonlyArray<{ id: string | Buffer; type: number; offset: number; length: number; rawLength: number }>): PackColumns {
  const n = entries.length;
  const ids: string[] = new Array(n);
  let types = "";
  const offsets: number[] = new Array(n);
  const lengths: number[] = new Array(n);
  const rawLengths: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    ids[i] = typeof e.id === "string" ? e.id : e.id.toString("hex");
    types += e.type === 1 ? "1" : "0";
    offsets[i] = e.offset;
    lengths[i] = e.length;
    rawLengths[i] = e.rawLength;
  }
  return { ids: ids.join(""), types, offsets, lengths, rawLengths };
}

/** One list of entries whichever form a validated report came in (the server's side). */
export function packReportEntries(p: PackReport): PackEntry[] {
  if (p.entries) return p.entries;
  const c = p.columns!;
  const n = c.offsets.length;
  const out: PackEntry[] = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = {
      id: c.ids.slice(i * CHUNK_ID_HEX, (i + 1) * CHUNK_ID_HEX),
      type: c.types.charCodeAt(i) === 49 ? 1 : 0,
      offset: c.offsets[i]!,
      length: c.lengths[i]!,
      rawLength: c.rawLengths[i]!,
    };
  }
  return out;
}
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
const MAX_COMMIT_IDS = 5_000_000;
export const commitPointRequestSchema = z
  .object({
    clientPointId: z.uuid(),
    manifest: pointManifestSchema,
    /** Every chunk the point references that the server should check (optional: the server may walk trees itself). */
    chunkIds: z.array(chunkIdSchema).max(MAX_COMMIT_IDS).optional(),
    /** The same as one concatenated-hex string (at most one of the two). */
    chunkIdsHex: hexIdsSchema(0, MAX_COMMIT_IDS).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.chunkIds !== undefined && r.chunkIdsHex !== undefined) ctx.addIssue({ code: "custom", path: ["chunkIdsHex"], message: "at most one of chunkIds and chunkIdsHex may be given" });
  });
/** The chunk ids a validated commit lists, whichever form. */
export const commitChunkIds = (r: z.infer<typeof commitPointRequestSchema>): string[] => r.chunkIds ?? (r.chunkIdsHex === undefined ? [] : splitHexIds(r.chunkIdsHex));
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
