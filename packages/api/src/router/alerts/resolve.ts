import { resolveAlert } from "@tidemark/alerts";
import { z } from "zod";
import { transact } from "../../audit";
import { alertsCall } from "./errors";
import { mspProcedure } from "../../tenant";
import { alertId } from "./inputs";

export const resolveAlertInput = z.object({ alertId });

/** Resolved by a person; "resolved" messages go to the alert's channels. A condition still present opens a new alert on the next check. */
export const resolve = mspProcedure("alerts.manage", resolveAlertInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) =>
    alertsCall(async () => {
      const alert = await resolveAlert(tx, ctx.tenant.scope, input.alertId, ctx.session.user.id);
      await audit({ mspId: alert.mspId, customerId: alert.customerId, action: "alert.resolve", targetType: "alert", targetId: alert.id, metadata: { condition: alert.condition, title: alert.title } });
      return { id: alert.id, state: alert.state, resolvedAt: alert.resolvedAt };
    }),
  ),
);
