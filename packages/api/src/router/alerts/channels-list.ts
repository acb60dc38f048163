import { listChannels } from "@tidemark/alerts";
import { z } from "zod";
import { mspProcedure } from "../../tenant";
import { customerId, mspId } from "../ids";

export const listChannelsInput = z.object({
  mspId,
  /** Only this customer's overrides; absent: every channel of the MSP (defaults first). */
  customerId: customerId.optional(),
});

/** Channels without their secrets (`hasSecret` says whether one is set), each with its latest delivery. */
export const channelsList = mspProcedure("alerts.read", listChannelsInput).query(({ ctx, input }) =>
  // The gate has checked the customer belongs to this MSP.
  listChannels(ctx.services.database.db, input.customerId ? { mspId: ctx.tenant.mspId, customerId: input.customerId } : { mspId: ctx.tenant.mspId }),
);
