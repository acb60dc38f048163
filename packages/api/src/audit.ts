import { type Actor, type Audit, auditWith, type Tx } from "@tidemark/db";
import type { Context } from "./context";

export type { Actor, Audit, AuditEntry } from "@tidemark/db";

export function actorOf(ctx: Context): Actor {
  return { userId: ctx.session?.user.id ?? null, email: ctx.session?.user.email ?? null, ip: ctx.ip, userAgent: ctx.userAgent };
}

/** Runs a change and its audit event in one transaction. */
export function transact<T>(ctx: Context, fn: (tx: Tx, audit: Audit) => Promise<T>): Promise<T> {
  const actor = actorOf(ctx);
  return ctx.services.database.db.transaction((tx) => fn(tx as Tx, auditWith(tx as Tx, actor)));
}
