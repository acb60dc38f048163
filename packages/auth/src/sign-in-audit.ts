/**
 * Sign-in, sign-out and lockouts in the audit log. The log is kept per MSP, and a user belongs to
 * MSPs (and customers) through memberships, so the event is written once for each distinct
 * MSP/customer the user belongs to: that organisation's admins see who got into (or failed to get
 * into) an account with access to their data. An address guessing at an email no account has
 * touches no organisation: createAuth writes such failures to the server log instead, and the
 * per-address limit bounds them.
 */
import { auditWith, type Database, schema, type Tx } from "@tidemark/db";
import { eq } from "drizzle-orm";

export const signInActions = {
  signIn: "auth.sign_in",
  failed: "auth.sign_in.failed",
  signOut: "auth.sign_out",
  locked: "auth.account_locked",
} as const;

export type SignInAction = (typeof signInActions)[keyof typeof signInActions];

/** Why an attempt failed, as the audit log's metadata.reason says it. */
export type FailureReason = "invalid_password" | "invalid_code" | "account_locked" | "rate_limited";

export type SignInEvent = {
  action: SignInAction;
  /** The account concerned; by email when the attempt named one. */
  userId?: string | null;
  email?: string | null;
  ip: string | null;
  userAgent: string | null;
  metadata?: Record<string, unknown>;
};

async function findUser(database: Database, ev: SignInEvent) {
  const u = schema.users;
  const where = ev.userId ? eq(u.id, ev.userId) : ev.email ? eq(u.email, ev.email.trim().toLowerCase()) : null;
  if (!where) return null;
  const [user] = await database.db.select({ id: u.id, email: u.email }).from(u).where(where);
  return user ?? null;
}

/** Writes the event for each organisation of the account; returns how many rows were written. */
export async function auditSignIn(database: Database, ev: SignInEvent): Promise<number> {
  const user = await findUser(database, ev);
  if (!user) return 0;
  const m = schema.memberships;
  const scopes = await database.db.selectDistinct({ mspId: m.mspId, customerId: m.customerId }).from(m).where(eq(m.userId, user.id));
  if (scopes.length === 0) return 0;
  await database.db.transaction(async (tx) => {
    const audit = auditWith(tx as Tx, { userId: user.id, email: user.email, ip: ev.ip, userAgent: ev.userAgent });
    for (const s of scopes) {
      await audit({ mspId: s.mspId, customerId: s.customerId, action: ev.action, targetType: "user", targetId: user.id, metadata: ev.metadata ?? {} });
    }
  });
  return scopes.length;
}
