import { embeddedSecret, env } from "@tidemark/config";

export class MissingSettingError extends Error {}

/**
 * Production (DATABASE_URL set) must be given its secrets: a generated one
 * would differ per instance and silently log everyone out or, for the KEK,
 * make stored customer keys unreadable.
 */
export function requiredSecret(setting: "AUTH_SECRET" | "TIDEMARK_KEK"): string {
  const config = env();
  const given = config[setting];
  if (given) return given;
  if (config.DATABASE_URL) {
    throw new MissingSettingError(`Configuration error: ${setting} is required when DATABASE_URL is set (it is only generated in the embedded default)`);
  }
  return embeddedSecret(setting === "AUTH_SECRET" ? "auth-secret" : "kek");
}
