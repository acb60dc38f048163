import { pointRoot } from "@tidemark/backup";
import { z } from "zod";
import { backupCall, openFiles } from "../../domain/repository";
import { customerProcedure } from "../../tenant";
import { pointId, pointPath } from "../ids";

export const listFilesInput = z.object({ pointId, path: pointPath.default("") });

/** One directory level of a point (the file browser expands lazily). */
export const list = customerProcedure("files.browse", listFilesInput).query(({ ctx, input }) =>
  backupCall(async () => {
    const point = await pointRoot(ctx.services.database.db, ctx.tenant.scope, input.pointId);
    const files = await openFiles(ctx.services, ctx.tenant);
    return { path: input.path, entries: await files.list(point.rootTree, input.path) };
  }),
);
