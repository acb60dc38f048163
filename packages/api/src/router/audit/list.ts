import { z } from "zod";
import { listAuditEvents } from "../../domain/audit-log";
import { customerProcedure } from "../../tenant";
import { customerId, mspId } from "../ids";

export const listAuditInput = z
  .object({
    mspId,
    customerId: customerId.optional(),
    action: z.string().trim().max(100).optional(),
    actorEmail: z.string().trim().max(254).optional(),
    from: z.coerce.date({ error: "From must be a date" }).optional(),
    to: z.coerce.date({ error: "To must be a date" }).optional(),
    cursor: z.string().max(200).optional(),
    limit: z.number().int().min(1).max(200).default(50),
  })
  .refine((v) => !v.from || !v.to || v.from <= v.to, { error: "From must be before To", path: ["from"] });

/** MSP staff see the whole MSP (optionally one customer); customer admins see their customer only. */
export const list = customerProcedure("audit.read", listAuditInput).query(({ ctx, input }) =>
  listAuditEvents(ctx.services.database.db, ctx.tenant.scope, input),
);
