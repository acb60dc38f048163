import type { Auth } from "@tidemark/auth";
import type { BlobAccount, Kek } from "@tidemark/backup";
import { clientIp, type Database } from "@tidemark/db";
import type { Mailer } from "@tidemark/notify";

/** What reading a customer's repository needs: the KEK that unwraps data keys and the blob account. */
export type RepositoryAccess = { kek: Kek; blobs: BlobAccount };

export type Services = {
  database: Database;
  auth: Auth;
  mailer: Mailer;
  publicUrl: string;
  /** Lazy: storage may be unconfigured (file procedures then say so) and is built on first use. */
  repositories?: () => Promise<RepositoryAccess>;
};

export type SessionUser = { id: string; email: string; name: string; twoFactorEnabled: boolean };
export type Session = { user: SessionUser; sessionId: string };

export type Context = {
  services: Services;
  session: Session | null;
  /** Client address as reported by the reverse proxy; recorded in the audit log. */
  ip: string | null;
  userAgent: string | null;
};

export async function createTRPCContext(opts: { headers: Headers; services: Services }): Promise<Context> {
  const { headers, services } = opts;
  const found = await services.auth.api.getSession({ headers });
  const session: Session | null = found
    ? {
        sessionId: found.session.id,
        user: {
          id: found.user.id,
          email: found.user.email,
          name: found.user.name,
          twoFactorEnabled: Boolean((found.user as { twoFactorEnabled?: boolean | null }).twoFactorEnabled),
        },
      }
    : null;
  return { services, session, ip: clientIp(headers), userAgent: headers.get("user-agent") };
}
