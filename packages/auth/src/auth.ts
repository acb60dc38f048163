/**
 * better-auth configured for Tidemark: email + password (scrypt, memory-hard),
 * database sessions in HTTP-only cookies, TOTP second factor, password reset by
 * email, and rate limits kept in PostgreSQL so they hold across instances.
 */
import { drizzleAdapter } from "@better-auth/drizzle-adapter";
import { type Database, schema } from "@tidemark/db";
import { escapeHtml, type Mailer } from "@tidemark/notify";
import { betterAuth } from "better-auth";
import { twoFactor } from "better-auth/plugins";

export type CreateAuthOptions = {
  database: Database;
  mailer: Mailer;
  baseURL: string;
  secret: string;
  /** Overrides for tests; production uses the defaults below. */
  rateLimit?: { signInPerMinute?: number; twoFactorPerMinute?: number };
};

export const AUTH_ISSUER = "Tidemark";

export function createAuth(opts: CreateAuthOptions) {
  const { database, mailer, baseURL, secret } = opts;
  const signInMax = opts.rateLimit?.signInPerMinute ?? 5;
  const twoFactorMax = opts.rateLimit?.twoFactorPerMinute ?? 5;
  return betterAuth({
    appName: AUTH_ISSUER,
    baseURL,
    secret,
    trustedOrigins: [new URL(baseURL).origin],
    database: drizzleAdapter(database.db, { provider: "pg", schema: schema.betterAuthSchema }),
    emailAndPassword: {
      enabled: true,
      minPasswordLength: 10,
      maxPasswordLength: 256,
      revokeSessionsOnPasswordReset: true,
      resetPasswordTokenExpiresIn: 60 * 60,
      async sendResetPassword({ user, url }) {
        await mailer.send({
          to: user.email,
          subject: "Reset your Tidemark password",
          text: `Someone asked to reset the password for ${user.email}.\n\nSet a new password: ${url}\n\nThe link works once and expires in one hour. If this was not you, ignore this email.`,
          html: `<p>Someone asked to reset the password for ${escapeHtml(user.email)}.</p><p><a href="${escapeHtml(url)}">Set a new password</a></p><p>The link works once and expires in one hour. If this was not you, ignore this email.</p>`,
        });
      },
    },
    session: {
      expiresIn: 60 * 60 * 24 * 7,
      updateAge: 60 * 60 * 24,
    },
    advanced: {
      ipAddress: { ipAddressHeaders: ["x-forwarded-for", "x-real-ip"] },
      defaultCookieAttributes: { httpOnly: true, sameSite: "lax" },
    },
    rateLimit: {
      enabled: true,
      storage: "database",
      modelName: "rateLimit",
      window: 60,
      max: 100,
      customRules: {
        "/sign-in/email": { window: 60, max: signInMax },
        "/two-factor/verify-totp": { window: 60, max: twoFactorMax },
        "/two-factor/verify-backup-code": { window: 60, max: twoFactorMax },
      },
    },
    plugins: [twoFactor({ issuer: AUTH_ISSUER })],
  });
}

export type Auth = ReturnType<typeof createAuth>;
