import { getAlert, listDeliveries } from "@tidemark/alerts";
import { z } from "zod";
import { alertsCall } from "./errors";
import { customerProcedure } from "../../tenant";
import { alertId } from "./inputs";

export const getAlertInput = z.object({ alertId });

/** One alert with its delivery log (MSP staff only: the log names the MSP's channels). */
export const get = customerProcedure("alerts.read", getAlertInput).query(({ ctx, input }) =>
  alertsCall(async () => {
    const db = ctx.services.database.db;
    const alert = await getAlert(db, ctx.tenant.scope, input.alertId);
    const deliveries = ctx.tenant.kind === "msp" ? (await listDeliveries(db, { mspId: ctx.tenant.mspId }, { alertId: alert.id, cursor: 0, limit: 100 })).deliveries : [];
    return { ...alert, deliveries };
  }),
);
