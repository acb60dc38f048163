import { acknowledgeAlert } from "@tidemark/alerts";
import { z } from "zod";
import { transact } from "../../audit";
import { alertsCall } from "./errors";
import { mspProcedure } from "../../tenant";
import { alertId } from "./inputs";

export const acknowledgeAlertInput = z.object({ alertId });

/** "I'm on it": the alert stays unresolved (the same condition keeps updating it) but shows who took it. */
export const acknowledge = mspProcedure("alerts.manage", acknowledgeAlertInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) =>
    alertsCall(async () => {
      const alert = await acknowledgeAlert(tx, ctx.tenant.scope, input.alertId, ctx.session.user.id);
      await audit({ mspId: alert.mspId, customerId: alert.customerId, action: "alert.acknowledge", targetType: "alert", targetId: alert.id, metadata: { condition: alert.condition, title: alert.title } });
      return { id: alert.id, state: alert.state, acknowledgedAt: alert.acknowledgedAt };
    }),
  ),
);
