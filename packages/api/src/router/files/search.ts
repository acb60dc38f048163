import { pointRoot } from "@tidemark/backup";
import { z } from "zod";
import { backupCall, openFiles } from "../../domain/repository";
import { customerProcedure } from "../../tenant";
import { pointId } from "../ids";

export const searchFilesInput = z.object({
  pointId,
  query: z.string().trim().min(1, "Type part of a name").max(255, "Search is at most 255 characters"),
  limit: z.number().int().min(1).max(1000).default(200),
});

/** Names containing the query anywhere in the point. */
export const search = customerProcedure("files.browse", searchFilesInput).query(({ ctx, input }) =>
  backupCall(async () => {
    const point = await pointRoot(ctx.services.database.db, ctx.tenant.scope, input.pointId);
    const files = await openFiles(ctx.services, ctx.tenant);
    return files.search(point.rootTree, input.query, input.limit);
  }),
);
