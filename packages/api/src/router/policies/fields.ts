import { z } from "zod";
import { name } from "../ids";

const count = (what: string) =>
  z.number({ error: `${what} must be a number` }).int(`${what} must be a whole number`).min(0, `${what} cannot be negative`).max(10_000);
const hours = (what: string) =>
  z.number({ error: `${what} must be a number of hours` }).int(`${what} must be whole hours`).min(1, `${what} must be at least 1 hour`).max(24 * 366);
const paths = (what: string) => z.array(z.string().trim().min(1, `${what} cannot contain an empty path`).max(4096)).max(1000);

export const retention = z.object({
  keepWithinHours: z.number().int().min(0, "Keep-within cannot be negative").max(24 * 366 * 10).default(24),
  hourly: count("Hourly").default(24),
  daily: count("Daily").default(30),
  weekly: count("Weekly").default(8),
  monthly: count("Monthly").default(12),
  yearly: count("Yearly").default(3),
});

/** Every field is read by a later stage (agent capture, GC, verification): nothing decorative. */
export const policyFields = z.object({
  name,
  rpoSeconds: z
    .number({ error: "RPO must be a number of seconds" })
    .int("RPO must be whole seconds")
    .min(5, "RPO must be at least 5 seconds")
    .max(86_400, "RPO must be at most 86400 seconds (1 day)")
    .default(60),
  includePaths: paths("Include paths").default([]),
  excludePaths: paths("Exclude paths").default([]),
  volumes: z.array(z.string().trim().min(1, "Volume cannot be empty").max(256)).max(64).default([]),
  retention: retention.default(retention.parse({})),
  restoreTestEveryHours: hours("Restore test interval").default(24),
  rescanEveryHours: hours("Full rescan interval").default(24),
  spoolLimitBytes: z
    .number()
    .int()
    .min(64 * 1024 ** 2, "Spool limit must be at least 64 MiB")
    .max(16 * 1024 ** 4, "Spool limit must be at most 16 TiB")
    .default(10 * 1024 ** 3),
});

/** Updates name only what changes; retention may be given partly. */
export const policyChanges = z.object({
  name: name.optional(),
  rpoSeconds: policyFields.shape.rpoSeconds.removeDefault().optional(),
  includePaths: paths("Include paths").optional(),
  excludePaths: paths("Exclude paths").optional(),
  volumes: policyFields.shape.volumes.removeDefault().optional(),
  retention: z
    .object({
      keepWithinHours: retention.shape.keepWithinHours.removeDefault(),
      hourly: count("Hourly"),
      daily: count("Daily"),
      weekly: count("Weekly"),
      monthly: count("Monthly"),
      yearly: count("Yearly"),
    })
    .partial()
    .optional(),
  restoreTestEveryHours: hours("Restore test interval").optional(),
  rescanEveryHours: hours("Full rescan interval").optional(),
  spoolLimitBytes: policyFields.shape.spoolLimitBytes.removeDefault().optional(),
});
