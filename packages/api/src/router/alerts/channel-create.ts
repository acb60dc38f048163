import { createChannel } from "@tidemark/alerts";
import { transact } from "../../audit";
import { mspProcedure } from "../../tenant";
import { alertsCall } from "./errors";
import { createChannelInput } from "./inputs";
import { secretBox } from "./services";

/** A generated webhook secret is in the response ONCE (`generatedSecret`); no other call returns it. */
export const channelCreate = mspProcedure("alertChannels.manage", createChannelInput).mutation(async ({ ctx, input }) => {
  const secrets = input.kind === "webhook" ? await secretBox(ctx.services) : null;
  return transact(ctx, (tx, audit) =>
    alertsCall(async () => {
      const customerId = input.customerId ?? null;
      const created = await createChannel(tx, secrets, ctx.tenant.mspId, {
        customerId,
        kind: input.kind,
        name: input.name,
        targets: input.targets,
        minSeverity: input.minSeverity,
        enabled: input.enabled,
        secret: input.secret,
      });
      const c = created.channel;
      await audit({ mspId: c.mspId, customerId, action: "alert_channel.create", targetType: "alert_channel", targetId: c.id, metadata: { kind: c.kind, name: c.name, targets: c.targets, minSeverity: c.minSeverity, enabled: c.enabled } });
      return created;
    }),
  );
});
