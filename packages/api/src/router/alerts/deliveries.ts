import { listDeliveries } from "@tidemark/alerts";
import { schema } from "@tidemark/db";
import { TRPCError } from "@trpc/server";
import { and, eq } from "drizzle-orm";
import { mspProcedure } from "../../tenant";
import { deliveriesInput } from "./inputs";

/** The delivery log, newest first: per alert, per channel, or the whole MSP. */
export const deliveries = mspProcedure("alerts.read", deliveriesInput).query(async ({ ctx, input }) => {
  const db = ctx.services.database.db;
  const mspId = ctx.tenant.mspId;
  // An alert or channel of another MSP is "not found", not an empty log.
  if (input.alertId) {
    const [a] = await db.select({ id: schema.alerts.id }).from(schema.alerts).where(and(eq(schema.alerts.id, input.alertId), eq(schema.alerts.mspId, mspId)));
    if (!a) throw new TRPCError({ code: "NOT_FOUND", message: "Alert not found" });
  }
  if (input.channelId) {
    const [c] = await db.select({ id: schema.alertChannels.id }).from(schema.alertChannels).where(and(eq(schema.alertChannels.id, input.channelId), eq(schema.alertChannels.mspId, mspId)));
    if (!c) throw new TRPCError({ code: "NOT_FOUND", message: "Alert channel not found" });
  }
  return listDeliveries(db, { mspId }, { alertId: input.alertId, channelId: input.channelId, state: input.state, cursor: input.cursor, limit: input.limit });
});
