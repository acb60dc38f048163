import { listAgentEvents } from "@tidemark/backup";
import { z } from "zod";
import { customerProcedure } from "../../tenant";
import { machineId } from "../ids";

export const machineEventsInput = z.object({ machineId, level: z.enum(["info", "warn", "error"]).optional(), limit: z.number().int().min(1).max(1000).default(100) });

/** What the agent reported (unreadable files, spool full, hook failures, restores), newest first. */
export const events = customerProcedure("machines.read", machineEventsInput).query(({ ctx, input }) =>
  listAgentEvents(ctx.services.database.db, ctx.tenant.scope, { machineId: input.machineId, level: input.level, limit: input.limit }),
);
