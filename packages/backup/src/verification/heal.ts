/**
 * Self-heal bookkeeping: a bad chunk is healed once a fresh copy of it is
 * indexed in a pack the worker verified (verify-pack calls this with the
 * entries it proved readable). A damaged point whose every bad chunk healed
 * is whole again ('healed', with the time); when a customer has no damaged
 * point left, its corruption alert resolves itself. Points whose data no
 * agent still has stay 'damaged' with their files listed.
 */
import { type DbOrTx, schema, scopeToCustomer } from "@tidemark/db";
import { and, eq, isNull, sql } from "drizzle-orm";
import type { CustomerScope } from "../kek";
import type { AlertSink } from "./alerts";
import { openBadChunks } from "./damage";

const HEX_ID = /^[0-9a-f]{64}$/;
const BATCH = 5000;

export type HealResult = { healed: string[]; pointsHealed: string[]; stillDamaged: number; resolved: boolean };

export async function healChunks(db: DbOrTx, scope: CustomerScope, chunkIds: string[], alerts: AlertSink, now = new Date()): Promise<HealResult> {
  const bc = schema.badChunks;
  const healed: string[] = [];
  const ids = [...new Set(chunkIds)].filter((id) => HEX_ID.test(id));
  for (let i = 0; i < ids.length; i += BATCH) {
    const slice = ids.slice(i, i + BATCH);
    const rows = await db
      .update(bc)
      .set({ healedAt: now })
      .where(
        and(
          scopeToCustomer(bc, scope),
          isNull(bc.healedAt),
          sql`${bc.chunkId} = any(array(select decode(h, 'hex') from unnest(${`{${slice.join(",")}}`}::text[]) as h))`,
        ),
      )
      .returning({ id: sql<string>`encode(${bc.chunkId}, 'hex')` });
    healed.push(...rows.map((r) => r.id));
  }
  if (healed.length === 0) return { healed, pointsHealed: [], stillDamaged: 0, resolved: false };
  return { healed, ...(await reevaluateDamagedPoints(db, scope, alerts, now)) };
}

/** Damaged points whose bad chunks are all healed become 'healed'; no damaged point left → the alert resolves. */
export async function reevaluateDamagedPoints(db: DbOrTx, scope: CustomerScope, alerts: AlertSink, now = new Date()) {
  const open = await openBadChunks({ db, scope });
  const rp = schema.recoveryPoints;
  const damaged = await db
    .select({ id: rp.id, damage: rp.damage })
    .from(rp)
    .where(and(scopeToCustomer(rp, scope), eq(rp.health, "damaged")));
  const pointsHealed: string[] = [];
  for (const p of damaged) {
    const ids = p.damage?.chunkIds ?? [];
    // A point recorded without chunk ids (a subtree lost by an earlier run) cannot be proven whole here.
    if (ids.length === 0 || ids.some((id) => open.has(id))) continue;
    await db
      .update(rp)
      .set({ health: "healed", damage: { ...p.damage!, healedAt: now.toISOString() } })
      .where(and(scopeToCustomer(rp, scope), eq(rp.id, p.id), eq(rp.health, "damaged")));
    pointsHealed.push(p.id);
  }
  const stillDamaged = damaged.length - pointsHealed.length;
  let resolved = false;
  if (stillDamaged === 0) {
    await alerts.resolve({ mspId: scope.mspId, condition: "corruption", subject: scope.customerId });
    resolved = true;
  }
  return { pointsHealed, stillDamaged, resolved };
}
