import { type DbOrTx, type TenantScope, schema, scopeTo } from "@tidemark/db";
import { and, desc, eq, gte, ilike, lte, sql, type SQL } from "drizzle-orm";
import { badRequest } from "./errors";

export type AuditFilter = {
  customerId?: string;
  action?: string;
  actorEmail?: string;
  from?: Date;
  to?: Date;
  cursor?: string;
  limit: number;
};

/** Opaque to clients: "<createdAt ISO>|<id>" of the last row of the previous page. */
function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [iso, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  const createdAt = new Date(iso ?? "");
  if (!id || Number.isNaN(createdAt.getTime())) throw badRequest("Invalid cursor: start again from the first page");
  return { createdAt, id };
}

const encodeCursor = (r: { createdAt: Date; id: string }) => Buffer.from(`${r.createdAt.toISOString()}|${r.id}`).toString("base64url");

/** JavaScript dates carry milliseconds, PostgreSQL microseconds: page on what a cursor can hold. */
const pageKey = sql`date_trunc('milliseconds', ${schema.auditEvents.createdAt})`;

export async function listAuditEvents(db: DbOrTx, scope: TenantScope, f: AuditFilter) {
  const t = schema.auditEvents;
  const conditions: SQL[] = [scopeTo(t, scope)];
  if (f.customerId) conditions.push(eq(t.customerId, f.customerId));
  if (f.action) conditions.push(f.action.endsWith(".") ? ilike(t.action, `${f.action}%`) : eq(t.action, f.action));
  if (f.actorEmail) conditions.push(ilike(t.actorEmail, `%${f.actorEmail.replace(/[%_\\]/g, "\\$&")}%`));
  if (f.from) conditions.push(gte(t.createdAt, f.from));
  if (f.to) conditions.push(lte(t.createdAt, f.to));
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    conditions.push(sql`(${pageKey}, ${t.id}) < (${c.createdAt.toISOString()}::timestamptz, ${c.id}::uuid)`);
  }
  const rows = await db
    .select()
    .from(t)
    .where(and(...conditions))
    .orderBy(desc(pageKey), desc(t.id))
    .limit(f.limit + 1);
  const page = rows.slice(0, f.limit);
  return { events: page, nextCursor: rows.length > f.limit ? encodeCursor(page[page.length - 1]!) : null };
}
