/**
 * Claiming an enrolment token, shared by the agent API (the real caller) and
 * the control-plane tests. It lives below both so that neither imports the
 * other.
 */
import { and, eq, gt, isNull } from "drizzle-orm";
import type { Audit } from "./audit";
import type { Tx } from "./client";
import { enrollmentTokens, machines } from "./schema";
import { hashToken, newToken, tokenState } from "./tokens";

/** The token cannot be used (unknown, used, expired, revoked): retrying with it cannot help. */
export class EnrollmentRefused extends Error {
  override name = "EnrollmentRefused";
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
    .update(enrollmentTokens)
    .set({ usedAt: now })
    .where(
      and(
        eq(enrollmentTokens.tokenHash, tokenHash),
        isNull(enrollmentTokens.usedAt),
        isNull(enrollmentTokens.revokedAt),
        gt(enrollmentTokens.expiresAt, now),
      ),
    )
    .returning();
  if (!claimed) {
    const [row] = await tx.select().from(enrollmentTokens).where(eq(enrollmentTokens.tokenHash, tokenHash));
    if (!row) throw new EnrollmentRefused("Unknown enrollment token: create a new one in the portal");
    const state = tokenState(row, now);
    const why = {
      used: "has already been used",
      revoked: "was revoked",
      expired: `expired at ${row.expiresAt.toISOString()}`,
      active: "could not be claimed",
    }[state];
    throw new EnrollmentRefused(`This enrollment token ${why}: create a new one in the portal`);
  }
  const secret = newToken();
  const [created] = await tx
    .insert(machines)
    .values({
      mspId: claimed.mspId,
      customerId: claimed.customerId,
      name: machine.name,
      os: machine.os,
      agentVersion: machine.agentVersion ?? null,
      secretHash: hashToken(secret),
      lastSeenAt: now,
    })
    .returning({ id: machines.id });
  await tx.update(enrollmentTokens).set({ usedByMachineId: created!.id }).where(eq(enrollmentTokens.id, claimed.id));
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
