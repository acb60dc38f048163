import { type Tx, schema } from "@tidemark/db";
import type { Context } from "./context";

export type AuditEntry = {
  mspId: string;
  customerId?: string | null;
  action: string;
  targetType: string;
  targetId?: string | null;
  metadata?: Record<string, unknown>;
};

/** Writes through the caller's transaction, so the event commits or rolls back with the change. */
export type Audit = (entry: AuditEntry) => Promise<void>;

export type Actor = { userId: string | null; email: string | null; ip: string | null; userAgent: string | null };

export function actorOf(ctx: Context): Actor {
  return { userId: ctx.session?.user.id ?? null, email: ctx.session?.user.email ?? null, ip: ctx.ip, userAgent: ctx.userAgent };
}

export function auditWith(tx: Tx, actor: Actor): Audit {
  return async (entry) => {
    await tx.insert(schema.auditEvents).values({
      mspId: entry.mspId,
      customerId: entry.customerId ?? null,
      actorUserId: actor.userId,
      actorEmail: actor.email,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId ?? null,
      ip: actor.ip,
      userAgent: actor.userAgent,
      metadata: entry.metadata ?? {},
    });
  };
}

/** Runs a change and its audit event in one transaction. */
export function transact<T>(ctx: Context, fn: (tx: Tx, audit: Audit) => Promise<T>): Promise<T> {
  const actor = actorOf(ctx);
  return ctx.services.database.db.transaction((tx) => fn(tx as Tx, auditWith(tx as Tx, actor)));
}
