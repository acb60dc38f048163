import { countAlerts } from "@tidemark/alerts";
import { customerProcedure } from "../../tenant";
import { tenantInput } from "./inputs";

/** Unresolved alerts by state and severity, for the navigation badge. */
export const counts = customerProcedure("alerts.read", tenantInput).query(({ ctx }) => countAlerts(ctx.services.database.db, ctx.tenant.scope));
