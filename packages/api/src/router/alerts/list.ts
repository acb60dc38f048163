import { listAlerts } from "@tidemark/alerts";
import { customerProcedure } from "../../tenant";
import { listAlertsInput } from "./inputs";

/** The alert centre: MSP staff see the MSP (filters narrow it); customer members see their customer's alerts only. */
export const list = customerProcedure("alerts.read", listAlertsInput).query(({ ctx, input }) =>
  listAlerts(ctx.services.database.db, ctx.tenant.scope, {
    customerId: input.customerId,
    machineId: input.machineId,
    severity: input.severity,
    state: input.state,
    condition: input.condition,
    cursor: input.cursor,
    limit: input.limit,
  }),
);
