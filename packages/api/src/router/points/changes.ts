import { diffPoints, pointRoot, previousPointRoot } from "@tidemark/backup";
import { z } from "zod";
import { backupCall, openFiles } from "../../domain/repository";
import { customerProcedure } from "../../tenant";
import { pointId } from "../ids";

export const pointChangesInput = z.object({ pointId, limit: z.number().int().min(1).max(5000).default(500) });

/** Files added, modified and deleted since the machine's previous point (everything, for its first). */
export const changes = customerProcedure("files.browse", pointChangesInput).query(({ ctx, input }) =>
  backupCall(async () => {
    const { db } = ctx.services.database;
    const point = await pointRoot(db, ctx.tenant.scope, input.pointId);
    const files = await openFiles(ctx.services, ctx.tenant);
    const previous = await previousPointRoot(db, ctx.tenant.scope, point);
    return { firstPoint: previous === null, ...(await diffPoints(files, previous, point.rootTree, input.limit)) };
  }),
);
