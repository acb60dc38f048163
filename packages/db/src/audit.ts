/**
 * The audit trail's write side, shared by the tRPC API and the agent API
 * (both record who did what, through the caller's transaction).
 */
import type { Tx } from "./client";
import { auditEvents } from "./schema/audit";

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

export function auditWith(tx: Tx, actor: Actor): Audit {
  return async (entry) => {
    await tx.insert(auditEvents).values({
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

/** The actor's address as reported by the reverse proxy (first hop). */
export function clientIp(headers: Headers): string | null {
  const forwarded = headers.get("x-forwarded-for")?.split(",")[0]?.trim();
  return forwarded || headers.get("x-real-ip")?.trim() || null;
}
