/**
 * The only reader of `process.env` in the code base.
 *
 * Every setting is validated here with zod; a missing or malformed one stops
 * the process with ONE line naming the setting, because an operator reading a
 * crash loop in a container log must see the cause in the first line.
 */
import { isIP } from "node:net";
import { z } from "zod";

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .optional();

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `must be a URL starting with ${protocols.join(" or ")}//`);

/** 32 random bytes, base64 or hex: the key-encryption key for customer data keys. */
const key32 = z
  .string()
  .trim()
  .refine((v) => decodeKey(v) !== null, "must be 32 bytes encoded as base64 (44 chars) or hex (64 chars)");

export function decodeKey(v: string): Buffer | null {
  if (/^[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v, "hex");
  if (/^[A-Za-z0-9+/]{43}=$/.test(v)) {
    const b = Buffer.from(v, "base64");
    return b.length === 32 ? b : null;
  }
  return null;
}

/** "10.0.0.0/8, 192.0.2.7, ::1": each entry an IP address or a CIDR range of one. */
function proxyListValid(v: string): boolean {
  return v.split(",").every((entry) => {
    const [ip, prefix, extra] = entry.trim().split("/");
    const family = isIP(ip ?? "");
    if (!family || extra !== undefined) return false;
    if (prefix === undefined) return true;
    return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
  });
}

const blank = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

export const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  /** PostgreSQL ≥ 15. Absent → embedded PGlite under TIDEMARK_DATA_DIR. */
  DATABASE_URL: z.preprocess(blank, url(["postgres:", "postgresql:"]).optional()),
  /** Where people and agents reach the portal; used in emails and install commands. */
  PUBLIC_URL: z.preprocess(blank, url(["http:", "https:"]).optional()),
  PORT: z.preprocess(blank, z.coerce.number().int().min(1).max(65535).default(3000)),
  /** smtp:// or smtps:// with credentials. Absent → mail is captured in the local outbox. */
  SMTP_URL: z.preprocess(blank, url(["smtp:", "smtps:"]).optional()),
  MAIL_FROM: z.preprocess(blank, z.string().default("Tidemark <no-reply@tidemark.local>")),
  /** Key-encryption key. Absent → generated and kept under TIDEMARK_DATA_DIR (embedded only). */
  TIDEMARK_KEK: z.preprocess(blank, key32.optional()),
  /** Secret for signing session cookies. Absent → generated under TIDEMARK_DATA_DIR. */
  AUTH_SECRET: z.preprocess(blank, z.string().min(32, "must be at least 32 characters").optional()),
  /** Where embedded PGlite, Azurite and generated secrets live. */
  TIDEMARK_DATA_DIR: z.preprocess(blank, z.string().optional()),
  /** Azure Blob Storage: a connection string, or account + key, or an account SAS URL. Absent → embedded Azurite. */
  AZURE_STORAGE_CONNECTION_STRING: optionalString,
  AZURE_STORAGE_ACCOUNT: optionalString,
  AZURE_STORAGE_KEY: optionalString,
  AZURE_STORAGE_SAS_URL: z.preprocess(blank, url(["http:", "https:"]).optional()),
  /**
   * Reverse proxies in front of the portal, as IP addresses or CIDR ranges. X-Forwarded-For is
   * believed only as far as it was appended by these; absent → none, the client is the socket's peer.
   */
  TRUSTED_PROXIES: z.preprocess(
    blank,
    z.string().trim().refine(proxyListValid, "must be a comma-separated list of IP addresses or CIDR ranges, e.g. 10.0.0.0/8,::1").optional(),
  ),
  /** Standalone CLI: repository password. */
  TIDEMARK_PASSWORD: z.string().optional(),
  /** Tests: the PostgreSQL server to create a fresh database on. */
  TEST_DATABASE_URL: z.preprocess(blank, url(["postgres:", "postgresql:"]).optional()),
  /** Run the worker inside the portal process (embedded default). */
  TIDEMARK_INPROCESS_WORKER: z.preprocess(blank, z.enum(["0", "1"]).optional()),
  LOG_LEVEL: z.preprocess(blank, z.enum(["debug", "info", "warn", "error"]).default("info")),
  /**
   * Alert SMS through Twilio's Messages REST API. All three of SID, token and sender are needed;
   * absent → SMS channels fail with a message naming these settings. The base URL is configurable
   * (tests point it at a local stand-in that speaks the same request shape).
   */
  TWILIO_ACCOUNT_SID: z.preprocess(blank, z.string().regex(/^AC[0-9a-fA-F]{32}$/, "must be a Twilio Account SID (AC followed by 32 hex characters)").optional()),
  TWILIO_AUTH_TOKEN: optionalString,
  TWILIO_FROM: z.preprocess(blank, z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 phone number such as +15551234567").optional()),
  TWILIO_BASE_URL: z.preprocess(blank, url(["http:", "https:"]).default("https://api.twilio.com")),
});

export type Env = z.infer<typeof envSchema>;

export class EnvError extends Error {
  constructor(readonly setting: string, readonly reason: string) {
    super(`Configuration error: ${setting} ${reason}`);
    this.name = "EnvError";
  }
}

/** Parse an environment-like record; throws EnvError naming the first bad setting. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = envSchema.safeParse(source);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const setting = String(issue.path[0] ?? "environment");
  throw new EnvError(setting, issue.message.startsWith("must") ? issue.message : `is invalid: ${issue.message}`);
}

let cached: Env | undefined;

/**
 * The validated environment of this process. On a bad setting, prints one line
 * and exits with status 2 (a configuration error, not a crash).
 */
export function env(): Env {
  if (cached) return cached;
  try {
    cached = parseEnv(process.env);
    return cached;
  } catch (err) {
    if (err instanceof EnvError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Tests replace the environment without touching process.env. */
export function setEnvForTests(overrides: Partial<Record<keyof Env, string>>): Env {
  cached = parseEnv({ ...process.env, ...overrides });
  return cached;
}
