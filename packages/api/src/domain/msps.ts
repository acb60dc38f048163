import { type DbOrTx, type Tx, schema, scopeTo } from "@tidemark/db";
import { eq } from "drizzle-orm";
import type { Audit } from "../audit";
import { forbidden, notFound } from "./errors";

const mspCols = { mspId: schema.msps.id };

export async function getMsp(db: DbOrTx, mspId: string) {
  const [msp] = await db.select().from(schema.msps).where(scopeTo(mspCols, { mspId }));
  if (!msp) throw notFound("MSP");
  return msp;
}

/** Sign-up's second half: a signed-in user with no organization yet founds one and owns it. */
export async function createMspForUser(tx: Tx, audit: Audit, userId: string, name: string) {
  const existing = await tx.select({ id: schema.memberships.id }).from(schema.memberships).where(eq(schema.memberships.userId, userId)).limit(1);
  if (existing.length > 0) throw forbidden("You already belong to an organization; ask its owner to invite you instead");
  const [msp] = await tx.insert(schema.msps).values({ name }).returning();
  await tx.insert(schema.memberships).values({ userId, mspId: msp!.id, role: "owner" });
  await audit({ mspId: msp!.id, action: "msp.create", targetType: "msp", targetId: msp!.id, metadata: { name } });
  return msp!;
}

export async function updateMsp(
  tx: Tx,
  audit: Audit,
  mspId: string,
  changes: { name?: string; requireMfa?: boolean },
  caller: { twoFactorEnabled: boolean },
) {
  // Requiring MFA without having it would lock the owner out of the very setting.
  if (changes.requireMfa && !caller.twoFactorEnabled) {
    throw forbidden("Enable MFA on your own account before requiring it for everyone");
  }
  const [msp] = await tx.update(schema.msps).set(changes).where(scopeTo(mspCols, { mspId })).returning();
  if (!msp) throw notFound("MSP");
  await audit({ mspId, action: "msp.update", targetType: "msp", targetId: mspId, metadata: changes });
  return msp;
}
