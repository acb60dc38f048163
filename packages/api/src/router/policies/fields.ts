import { z } from "zod";
import { name } from "../ids";

const count = (what: string) =>
  z.number({ error: `${what} must be a number` }).int(`${what} must be a whole number`).min(0, `${what} cannot be negative`).max(10_000);
const hours = (what: string) =>
  z.number({ error: `${what} must be a number of hours` }).int(`${what} must be whole hours`).min(1, `${what} must be at least 1 hour`).max(24 * 366);
const whole = (what: string, unit: string, min: number, max: number) =>
  z
    .number({ error: `${what} must be a number of ${unit}` })
    .int(`${what} must be whole ${unit}`)
    .min(min, `${what} must be at least ${min} ${min === 1 ? unit.replace(/s$/, "") : unit}`)
    .max(max, `${what} must be at most ${max} ${unit}`);
/**
 * A hook runs through the machine's shell as the agent's service account: one
 * line, no control characters (a NUL or newline would be cut or smuggle a second
 * command past whoever reads the policy). Empty means "no hook" (null).
 */
const hookCommand = (what: string) =>
  z
    .string({ error: `${what} must be text` })
    .trim()
    .max(4096, `${what} is at most 4096 characters`)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), `${what} must be a single line without control characters`)
    .nullable()
    .transform((s) => (s ? s : null));
const paths = (what: string) => z.array(z.string().trim().min(1, `${what} cannot contain an empty path`).max(4096)).max(1000);

export const retention = z.object({
  keepWithinHours: z.number().int().min(0, "Keep-within cannot be negative").max(24 * 366 * 10).default(24),
  hourly: count("Hourly").default(24),
  daily: count("Daily").default(30),
  weekly: count("Weekly").default(8),
  monthly: count("Monthly").default(12),
  yearly: count("Yearly").default(3),
});

/**
 * Capture, consistency, verification and alert settings. Bounds follow what
 * reads them: the agent's wire policy (volume interval, hook timeout) and the
 * worker's schedules; alert thresholds below 2 would page on ordinary jitter.
 */
const settings = {
  volumeIntervalSeconds: whole("Volume image interval", "seconds", 60, 30 * 86_400).default(3600),
  vss: z.boolean({ error: "VSS must be on or off" }).default(true),
  preFreezeCommand: hookCommand("Pre-freeze command").default(null),
  postThawCommand: hookCommand("Post-thaw command").default(null),
  hookTimeoutSeconds: whole("Hook timeout", "seconds", 1, 3600).default(60),
  scrubPeriodDays: whole("Scrub period", "days", 1, 365).default(7),
  repoCheckEveryHours: whole("Repository check interval", "hours", 1, 24 * 30).default(24),
  offlineAlertMinutes: whole("Offline alert delay", "minutes", 2, 7 * 24 * 60).default(30),
  rpoMissedFactor: z
    .number({ error: "RPO missed factor must be a number" })
    .int("RPO missed factor must be a whole number")
    .min(2, "RPO missed factor must be at least 2 (× the RPO)")
    .max(100, "RPO missed factor must be at most 100 (× the RPO)")
    .default(3),
};

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
  // The agent's wire policy caps the rescan interval at 30 days.
  rescanEveryHours: hours("Full rescan interval").max(720, "Full rescan interval must be at most 720 hours (30 days)").default(24),
  spoolLimitBytes: z
    .number()
    .int()
    .min(64 * 1024 ** 2, "Spool limit must be at least 64 MiB")
    .max(16 * 1024 ** 4, "Spool limit must be at most 16 TiB")
    .default(10 * 1024 ** 3),
  ...settings,
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
  rescanEveryHours: policyFields.shape.rescanEveryHours.removeDefault().optional(),
  spoolLimitBytes: policyFields.shape.spoolLimitBytes.removeDefault().optional(),
  ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, v.removeDefault().optional()])) as {
    [K in keyof typeof settings]: z.ZodOptional<ReturnType<(typeof settings)[K]["removeDefault"]>>;
  },
});
