import { fileVersions, pointRoot } from "@tidemark/backup";
import { z } from "zod";
import { backupCall, openFiles } from "../../domain/repository";
import { customerProcedure } from "../../tenant";
import { pointId, pointPath } from "../ids";

export const fileVersionsInput = z.object({ pointId, path: pointPath.refine((p) => p.replace(/\//g, "") !== "", "Pick a file"), limit: z.number().int().min(1).max(500).default(100) });

/** The same path in the machine's points (newest first), marking where its content changed. */
export const versions = customerProcedure("files.browse", fileVersionsInput).query(({ ctx, input }) =>
  backupCall(async () => {
    const { db } = ctx.services.database;
    const point = await pointRoot(db, ctx.tenant.scope, input.pointId);
    const files = await openFiles(ctx.services, ctx.tenant);
    return fileVersions(files, db, ctx.tenant.scope, point.machineId, input.path, input.limit);
  }),
);
