/**
 * Which channels an alert goes to. Always within the alert's own MSP: the
 * query is scoped by msp_id before anything else, so no combination of ids can
 * reach another MSP's channels.
 */
import { type DbOrTx, schema, scopeToMsp } from "@tidemark/db";
import type { AlertChannelKind, AlertSeverity } from "@tidemark/db/schema";
import { and, eq, isNull, or } from "drizzle-orm";
import { atLeast } from "./severity";

export type Channel = typeof schema.alertChannels.$inferSelect;

/**
 * For an alert about a customer, that customer's enabled channels of a kind
 * replace the MSP defaults of the same kind (a disabled override counts as
 * absent). Then channels whose minimum severity is above the alert's are
 * dropped: an override with a higher minimum silences that kind for the
 * customer rather than falling back to the defaults.
 */
export async function routeAlert(db: DbOrTx, alert: { mspId: string; customerId: string | null; severity: AlertSeverity }): Promise<Channel[]> {
  const t = schema.alertChannels;
  const candidates = await db
    .select()
    .from(t)
    .where(and(scopeToMsp(t, alert.mspId), eq(t.enabled, true), alert.customerId ? or(isNull(t.customerId), eq(t.customerId, alert.customerId)) : isNull(t.customerId)));
  const overridden = new Set<AlertChannelKind>(candidates.filter((c) => c.customerId !== null).map((c) => c.kind));
  return candidates
    .filter((c) => c.mspId === alert.mspId)
    .filter((c) => c.customerId !== null || !overridden.has(c.kind))
    .filter((c) => atLeast(alert.severity, c.minSeverity))
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}
