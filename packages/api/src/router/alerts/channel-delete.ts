import { deleteChannel } from "@tidemark/alerts";
import { z } from "zod";
import { transact } from "../../audit";
import { alertsCall } from "./errors";
import { mspProcedure } from "../../tenant";
import { channelId } from "./inputs";

export const deleteChannelInput = z.object({ channelId });

/** Its delivery log goes with it; alerts stay. */
export const channelDelete = mspProcedure("alertChannels.manage", deleteChannelInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) =>
    alertsCall(async () => {
      const c = await deleteChannel(tx, ctx.tenant.scope, input.channelId);
      await audit({ mspId: c.mspId, customerId: c.customerId, action: "alert_channel.delete", targetType: "alert_channel", targetId: c.id, metadata: { kind: c.kind, name: c.name } });
      return { id: c.id };
    }),
  ),
);
