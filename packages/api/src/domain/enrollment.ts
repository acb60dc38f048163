import { type DbOrTx, hashToken, newToken, type TenantScope, tokenState, type Tx, schema, scopeTo } from "@tidemark/db";
import { and, desc, eq } from "drizzle-orm";
import type { Audit } from "../audit";
import { badRequest, notFound } from "./errors";


export function installCommand(publicUrl: string, token: string): string {
  // "=": a base64url token may start with "-", which an argument parser would take for an option.
  return `pnpm tidemark-agent enroll --server ${publicUrl} --token=${token}`;
}

export async function createEnrollmentToken(
  tx: Tx,
  audit: Audit,
  scope: { mspId: string; customerId: string },
  opts: { expiresInHours: number; userId: string; publicUrl: string },
) {
  const token = newToken();
  const expiresAt = new Date(Date.now() + opts.expiresInHours * 3600_000);
  const [row] = await tx
    .insert(schema.enrollmentTokens)
    .values({ ...scope, tokenHash: hashToken(token), expiresAt, createdByUserId: opts.userId })
    .returning({ id: schema.enrollmentTokens.id });
  await audit({
    ...scope,
    action: "enrollment_token.create",
    targetType: "enrollment_token",
    targetId: row!.id,
    metadata: { expiresAt: expiresAt.toISOString() },
  });
  // The token itself is returned once and never stored.
  return { id: row!.id, token, expiresAt, installCommand: installCommand(opts.publicUrl, token) };
}

export async function listEnrollmentTokens(db: DbOrTx, scope: TenantScope, customerId: string) {
  const rows = await db
    .select({
      id: schema.enrollmentTokens.id,
      customerId: schema.enrollmentTokens.customerId,
      createdAt: schema.enrollmentTokens.createdAt,
      expiresAt: schema.enrollmentTokens.expiresAt,
      usedAt: schema.enrollmentTokens.usedAt,
      usedByMachineId: schema.enrollmentTokens.usedByMachineId,
      revokedAt: schema.enrollmentTokens.revokedAt,
      createdByEmail: schema.users.email,
    })
    .from(schema.enrollmentTokens)
    .leftJoin(schema.users, eq(schema.users.id, schema.enrollmentTokens.createdByUserId))
    .where(and(eq(schema.enrollmentTokens.customerId, customerId), scopeTo(schema.enrollmentTokens, scope)))
    .orderBy(desc(schema.enrollmentTokens.createdAt));
  const now = new Date();
  return rows.map((r) => ({ ...r, state: tokenState(r, now) }));
}

export async function revokeEnrollmentToken(tx: Tx, audit: Audit, scope: TenantScope, tokenId: string) {
  const [row] = await tx
    .select()
    .from(schema.enrollmentTokens)
    .where(and(eq(schema.enrollmentTokens.id, tokenId), scopeTo(schema.enrollmentTokens, scope)));
  if (!row) throw notFound("Enrollment token");
  const state = tokenState(row);
  if (state !== "active") throw badRequest(`This enrollment token is already ${state}`);
  await tx.update(schema.enrollmentTokens).set({ revokedAt: new Date() }).where(eq(schema.enrollmentTokens.id, tokenId));
  await audit({ mspId: row.mspId, customerId: row.customerId, action: "enrollment_token.revoke", targetType: "enrollment_token", targetId: tokenId });
  return { id: tokenId, state: "revoked" as const };
}
