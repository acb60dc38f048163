/**
 * A recovery point: an immutable manifest naming its root tree and volume
 * maps. It is complete on its own (no chain to replay) and is written only
 * after every pack and index object it needs is durable.
 */
import { z } from "zod";

const hexId = z.string().regex(/^[0-9a-f]{64}$/);

export const volumeSchema = z.object({
  /** The device or image path as captured. */
  source: z.string(),
  name: z.string(),
  size: z.number().int().nonnegative(),
  blockSize: z.number().int().positive(),
  /** DATA blob holding the block map (see volume.ts). */
  map: hexId,
});
export type VolumeRef = z.infer<typeof volumeSchema>;

export const statsSchema = z.object({
  files: z.number().int(),
  dirs: z.number().int(),
  /** Logical bytes of every file/volume in the point. */
  bytes: z.number(),
  /** Bytes that were read and chunked (not reused from the parent). */
  readBytes: z.number(),
  newChunks: z.number().int(),
  /** Plaintext bytes of chunks that were new to the repository. */
  newBytes: z.number(),
  /** Sealed bytes uploaded for them. */
  storedBytes: z.number(),
  durationMs: z.number(),
});
export type SnapshotStats = z.infer<typeof statsSchema>;

export const snapshotSchema = z.object({
  v: z.literal(1),
  time: z.string(),
  host: z.string(),
  paths: z.array(z.string()),
  /** Root tree: one entry per source path (its basename). */
  tree: hexId,
  volumes: z.array(volumeSchema).default([]),
  consistency: z.enum(["crash", "application"]).default("crash"),
  parent: z.string().optional(),
  tags: z.array(z.string()).default([]),
  /** Exclude patterns the walk applied (absent: none). */
  excludes: z.array(z.string()).optional(),
  stats: statsSchema,
  /** Files that could not be read: recorded, not fatal. */
  errors: z.array(z.object({ path: z.string(), error: z.string() })).default([]),
});
export type Snapshot = z.infer<typeof snapshotSchema>;

export const SNAPSHOT_PREFIX = "snapshots/";
