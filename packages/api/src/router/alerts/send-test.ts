import { sendTestMessage } from "@tidemark/alerts";
import { z } from "zod";
import { transact } from "../../audit";
import { alertsCall } from "./errors";
import { mspProcedure } from "../../tenant";
import { channelId } from "./inputs";
import { deliveryDeps } from "./services";

export const sendTestInput = z.object({ channelId });

/**
 * Sends a sample message on the channel now and returns the recorded delivery
 * (state sent/failed, HTTP status, error). Works on a disabled channel too, so
 * it can be checked before it is switched on.
 */
export const sendTest = mspProcedure("alertChannels.manage", sendTestInput).mutation(async ({ ctx, input }) => {
  const delivery = await alertsCall(async () => sendTestMessage(await deliveryDeps(ctx.services), ctx.tenant.scope, input.channelId));
  await transact(ctx, (_tx, audit) =>
    audit({ mspId: delivery.mspId, customerId: ctx.tenant.customerId, action: "alert_channel.test", targetType: "alert_channel", targetId: delivery.channelId, metadata: { state: delivery.state, lastStatus: delivery.lastStatus } }),
  );
  const { id, channelId: ch, event, state, attempts, lastStatus, lastError, sentAt, createdAt } = delivery;
  return { id, channelId: ch, event, state, attempts, lastStatus, lastError, sentAt, createdAt };
});
