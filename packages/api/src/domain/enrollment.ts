import { type DbOrTx, type TenantScope, type Tx, schema, scopeTo } from "@tidemark/db";
import { and, desc, eq, gt, isNull } from "drizzle-orm";
import type { Audit } from "../audit";
import { hashToken, newToken } from "../tokens";
import { badRequest, notFound } from "./errors";

export type TokenState = "active" | "used" | "expired" | "revoked";

export function tokenState(t: { usedAt: Date | null; revokedAt: Date | null; expiresAt: Date }, now = new Date()): TokenState {
  if (t.usedAt) return "used";
  if (t.revokedAt) return "revoked";
  return t.expiresAt <= now ? "expired" : "active";
}

export function installCommand(publicUrl: string, token: string): string {
  return `pnpm tidemark-agent enroll --server ${publicUrl} --token ${token}`;
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

/**
 * The agent's first call: trades a single-use token for a machine and its own
 * long-lived credential. The conditional UPDATE is the single-use guarantee:
 * two agents racing with one token cannot both win.
 */
export async function enrollMachine(
  tx: Tx,
  audit: Audit,
  token: string,
  machine: { name: string; os: string; agentVersion?: string },
) {
  const tokenHash = hashToken(token);
  const now = new Date();
  const [claimed] = await tx
    .update(schema.enrollmentTokens)
    .set({ usedAt: now })
    .where(
      and(
        eq(schema.enrollmentTokens.tokenHash, tokenHash),
        isNull(schema.enrollmentTokens.usedAt),
        isNull(schema.enrollmentTokens.revokedAt),
        gt(schema.enrollmentTokens.expiresAt, now),
      ),
    )
    .returning();
  if (!claimed) {
    const [row] = await tx.select().from(schema.enrollmentTokens).where(eq(schema.enrollmentTokens.tokenHash, tokenHash));
    if (!row) throw badRequest("Unknown enrollment token: create a new one in the portal");
    const state = tokenState(row, now);
    const why = {
      used: "has already been used",
      revoked: "was revoked",
      expired: `expired at ${row.expiresAt.toISOString()}`,
      active: "could not be claimed",
    }[state];
    throw badRequest(`This enrollment token ${why}: create a new one in the portal`);
  }
  const secret = newToken();
  const [created] = await tx
    .insert(schema.machines)
    .values({
      mspId: claimed.mspId,
      customerId: claimed.customerId,
      name: machine.name,
      os: machine.os,
      agentVersion: machine.agentVersion ?? null,
      secretHash: hashToken(secret),
      lastSeenAt: now,
    })
    .returning({ id: schema.machines.id });
  await tx.update(schema.enrollmentTokens).set({ usedByMachineId: created!.id }).where(eq(schema.enrollmentTokens.id, claimed.id));
  await audit({
    mspId: claimed.mspId,
    customerId: claimed.customerId,
    action: "machine.enroll",
    targetType: "machine",
    targetId: created!.id,
    metadata: { name: machine.name, os: machine.os, tokenId: claimed.id },
  });
  return { machineId: created!.id, customerId: claimed.customerId, mspId: claimed.mspId, secret };
}
