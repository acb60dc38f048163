import { targetsSchema, updateChannel } from "@tidemark/alerts";
import { schema } from "@tidemark/db";
import { eq } from "drizzle-orm";
import { transact } from "../../audit";
import { alertsCall, fieldError } from "./errors";
import { mspProcedure } from "../../tenant";
import { updateChannelInput } from "./inputs";
import { secretBox } from "./services";

/** Kind and customer are fixed at creation; everything else may change. The secret is write-only. */
export const channelUpdate = mspProcedure("alertChannels.manage", updateChannelInput).mutation(async ({ ctx, input }) => {
  const db = ctx.services.database.db;
  const [current] = await db.select({ kind: schema.alertChannels.kind }).from(schema.alertChannels).where(eq(schema.alertChannels.id, input.channelId));
  if (input.targets && current) {
    const r = targetsSchema(current.kind).safeParse(input.targets);
    if (!r.success) throw fieldError("targets", r.error.issues[0]!.message);
  }
  const secrets = input.secret !== undefined || input.rotateSecret ? await secretBox(ctx.services) : null;
  return transact(ctx, (tx, audit) =>
    alertsCall(async () => {
      const { channel, generatedSecret, before } = await updateChannel(tx, secrets, ctx.tenant.scope, input.channelId, {
        name: input.name,
        targets: input.targets,
        minSeverity: input.minSeverity,
        enabled: input.enabled,
        secret: input.secret,
        rotateSecret: input.rotateSecret,
      });
      const changed = (["name", "targets", "minSeverity", "enabled"] as const).filter((k) => input[k] !== undefined && JSON.stringify(before[k]) !== JSON.stringify(channel[k]));
      await audit({
        mspId: channel.mspId,
        customerId: channel.customerId,
        action: "alert_channel.update",
        targetType: "alert_channel",
        targetId: channel.id,
        metadata: { changed: [...changed, ...(input.secret !== undefined || input.rotateSecret ? ["secret"] : [])], ...Object.fromEntries(changed.map((k) => [k, channel[k]])) },
      });
      return { channel, generatedSecret };
    }),
  );
});
