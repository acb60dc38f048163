/**
 * better-auth configured for Tidemark: email + password (scrypt, memory-hard),
 * database sessions in HTTP-only cookies, TOTP second factor, password reset by
 * email, rate limits per address and per account kept in PostgreSQL so they hold
 * across instances, and sign-in/sign-out in the audit log.
 */
import { drizzleAdapter } from "@better-auth/drizzle-adapter";
import { env } from "@tidemark/config";
import { type Database, schema } from "@tidemark/db";
import { escapeHtml, type Mailer } from "@tidemark/notify";
import { type BetterAuthPlugin, betterAuth } from "better-auth";
import { APIError, createAuthMiddleware, getSessionFromCtx, isAPIError } from "better-auth/api";
import { twoFactor } from "better-auth/plugins";
import { accountLockout, defaultLockout, type LockoutPolicy } from "./account-lockout";
import { FORWARDED_FOR, installClientAddress, parseTrustedProxies, resolvedHeaders } from "./client-address";
import { auditSignIn, type FailureReason, type SignInEvent, signInActions } from "./sign-in-audit";

export type CreateAuthOptions = {
  database: Database;
  mailer: Mailer;
  baseURL: string;
  secret: string;
  /** Overrides for tests; production uses the defaults below. */
  rateLimit?: { signInPerMinute?: number; twoFactorPerMinute?: number };
  /** Per-account password limits (tests shorten them). */
  lockout?: Partial<LockoutPolicy>;
  /** TRUSTED_PROXIES; defaults to the setting. */
  trustedProxies?: string;
};

const SIGN_IN = "/sign-in/email";
const SECOND_FACTOR = ["/two-factor/verify-totp", "/two-factor/verify-backup-code"];

const parseJson = (text: string | null): Record<string, unknown> | null => {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
};

const minutesText = (seconds: number) => (seconds <= 60 ? "a minute" : `${Math.ceil(seconds / 60)} minutes`);

/** The refusal a locked account gets, whatever password was sent (so it reveals nothing about it). */
export function accountLockedError(lockedForSeconds: number) {
  return new APIError(
    "TOO_MANY_REQUESTS",
    { code: "ACCOUNT_LOCKED", message: `Too many failed sign-in attempts for this account. Try again in ${minutesText(lockedForSeconds)}.` },
    { "Retry-After": String(lockedForSeconds) },
  );
}

export const AUTH_ISSUER = "Tidemark";

export function createAuth(opts: CreateAuthOptions) {
  const { database, mailer, baseURL, secret } = opts;
  const signInMax = opts.rateLimit?.signInPerMinute ?? 5;
  const twoFactorMax = opts.rateLimit?.twoFactorPerMinute ?? 5;
  const lockout = accountLockout(database, { ...defaultLockout, ...opts.lockout });
  // The process serving these routes resolves client addresses at its HTTP server (see client-address.ts).
  installClientAddress(parseTrustedProxies(opts.trustedProxies ?? env().TRUSTED_PROXIES));

  const who = (headers: Headers | undefined): Pick<SignInEvent, "ip" | "userAgent"> => ({
    ip: headers?.get(FORWARDED_FOR) ?? null,
    userAgent: headers?.get("user-agent") ?? null,
  });
  // Auditing must never turn a sign-in into an error page: a failed write is reported, not thrown.
  const audit = (ev: SignInEvent) =>
    auditSignIn(database, ev)
      .then((rows) => {
        // No organisation's log can hold a failure against an unknown email (or an account with no
        // membership); the operator's server log does, so guessing at accounts is still on record.
        if (rows === 0 && ev.action === signInActions.failed) {
          console.warn(`auth: failed sign-in (${String(ev.metadata?.reason ?? "unknown")}) for ${JSON.stringify(ev.email ?? ev.userId ?? "?")} without an organisation to audit it, from ${ev.ip ?? "unknown address"}`);
        }
      })
      .catch((err) => console.error(`audit ${ev.action} failed: ${err instanceof Error ? err.message : String(err)}`));
  const failed = (reason: FailureReason, ev: Omit<SignInEvent, "action">) => audit({ ...ev, action: signInActions.failed, metadata: { reason, ...ev.metadata } });

  /** The signed cookie of a sign-in waiting for its second factor, if this request carries one. */
  const pendingSecondFactor = async (ctx: Parameters<Parameters<typeof createAuthMiddleware>[0]>[0]) => {
    const cookie = ctx.context.createAuthCookie("two_factor");
    return ctx.getSignedCookie(cookie.name, ctx.context.secret).catch(() => null);
  };

  const signInGuard = {
    id: "tidemark-sign-in-guard",
    hooks: {
      before: [
        {
          matcher: (ctx: { path?: string }) => ctx.path === SIGN_IN,
          handler: createAuthMiddleware(async (ctx) => {
            const email = String((ctx.body as { email?: unknown } | undefined)?.email ?? "");
            if (!email) return;
            const state = await lockout.check(email);
            if (state.lockedForSeconds > 0) {
              await failed("account_locked", { email, ...who(ctx.headers), metadata: { lockedForSeconds: state.lockedForSeconds } });
              throw accountLockedError(state.lockedForSeconds);
            }
          }),
        },
        {
          matcher: (ctx: { path?: string }) => ctx.path === "/sign-out",
          // Before the endpoint: afterwards the session is gone.
          handler: createAuthMiddleware(async (ctx) => {
            const session = await getSessionFromCtx(ctx).catch(() => null);
            if (session) await audit({ action: signInActions.signOut, userId: session.user.id, ...who(ctx.headers) });
          }),
        },
      ],
      after: [
        {
          matcher: (ctx: { path?: string }) => ctx.path === SIGN_IN,
          handler: createAuthMiddleware(async (ctx) => {
            const returned = ctx.context.returned;
            const error = isAPIError(returned) ? returned : null;
            const email = String((ctx.body as { email?: unknown } | undefined)?.email ?? "");
            if (!email) return;
            if (error?.statusCode === 401) {
              const state = await lockout.fail(email);
              await failed("invalid_password", { email, ...who(ctx.headers), metadata: { failures: state.failures } });
              if (state.lockedForSeconds > 0) {
                await audit({ action: signInActions.locked, email, ...who(ctx.headers), metadata: { failures: state.failures, lockedForSeconds: state.lockedForSeconds } });
              }
            } else if (!error) {
              // The password was right (a second factor may still follow): the streak is over.
              await lockout.clear(email);
              const session = ctx.context.newSession;
              if (session) await audit({ action: signInActions.signIn, userId: session.user.id, ...who(ctx.headers), metadata: { method: "password" } });
            }
          }),
        },
        {
          matcher: (ctx: { path?: string }) => SECOND_FACTOR.includes(ctx.path ?? ""),
          handler: createAuthMiddleware(async (ctx) => {
            // Only the second step of a sign-in; the same endpoint also confirms TOTP set-up.
            const pending = await pendingSecondFactor(ctx);
            if (!pending) return;
            const method = `password+${ctx.path.endsWith("backup-code") ? "backup_code" : "totp"}`;
            const session = ctx.context.newSession;
            if (session) return void (await audit({ action: signInActions.signIn, userId: session.user.id, ...who(ctx.headers), metadata: { method } }));
            const returned = ctx.context.returned;
            if (!isAPIError(returned) || returned.statusCode !== 401) return;
            const userId = (await ctx.context.internalAdapter.findVerificationValue(pending))?.value;
            if (userId) await failed("invalid_code", { userId, ...who(ctx.headers), metadata: { method } });
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;

  const auth = betterAuth({
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
      // Only ever the address resolved from TRUSTED_PROXIES (see handler below).
      ipAddress: { ipAddressHeaders: [FORWARDED_FOR] },
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
        // No request has this path. better-auth prunes rate-limit rows older than its longest window,
        // and the per-account counts (account-lockout.ts) share that table: this keeps them for theirs.
        "/tidemark/account-lockout-window": { window: lockout.policy.windowSeconds, max: 1 },
      },
    },
    // The guard comes after twoFactor: its after-hooks then see a sign-in that still needs a second
    // factor as what it is (no session), not as the session twoFactor is about to withdraw.
    plugins: [twoFactor({ issuer: AUTH_ISSUER }), signInGuard],
  });

  return {
    ...auth,
    /**
     * better-auth behind the address check: X-Forwarded-For reaches it only as resolved by this
     * process's HTTP server; otherwise it is removed and the request counts as "address unknown".
     * Address limits that refuse a sign-in never reach the hooks, so they are audited here.
     */
    async handler(request: Request): Promise<Response> {
      const headers = resolvedHeaders(request.headers);
      const address = headers.get(FORWARDED_FOR);
      const signIn = request.method === "POST" && new URL(request.url).pathname.endsWith(`/api/auth${SIGN_IN}`);
      const body = signIn ? await request.clone().text() : null;
      const res = await auth.handler(new Request(request, { headers }));
      if (signIn && res.status === 429) {
        const refusal = parseJson(await res.clone().text());
        // A locked account was audited by the hook; this is the per-address limit, which runs before any hook.
        if (refusal?.code !== "ACCOUNT_LOCKED") {
          const email = String(parseJson(body)?.email ?? "");
          if (email) await failed("rate_limited", { email, ip: address, userAgent: headers.get("user-agent") });
        }
      }
      return res;
    },
  };
}

export type Auth = ReturnType<typeof createAuth>;
