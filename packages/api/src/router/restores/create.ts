import { createRestoreJob, pointRoot, splitPath } from "@tidemark/backup";
import { z } from "zod";
import { transact } from "../../audit";
import { backupCall } from "../../domain/repository";
import { customerProcedure } from "../../tenant";
import { machineId, pointId, pointPath } from "../ids";

export const createRestoreInput = z
  .object({
    /** The machine that executes the restore (usually the point's own machine). */
    machineId,
    pointId,
    paths: z.array(pointPath.refine((p) => p.replace(/\//g, "") !== "", "Empty path")).min(1, "Pick at least one file or folder").max(1000, "At most 1000 paths per restore"),
    destination: z.enum(["original", "folder"]),
    targetPath: z.string().trim().max(4096, "Folder path is at most 4096 characters").optional(),
    conflict: z.enum(["overwrite", "skip", "keepBoth"]),
  })
  .refine((i) => i.destination !== "folder" || (i.targetPath && /^([A-Za-z]:[\\/]|[\\/])/.test(i.targetPath)), {
    message: "Give an absolute folder on the machine (e.g. /srv/restore or D:\\Restore)",
    path: ["targetPath"],
  });

export const create = customerProcedure("restores.request", createRestoreInput).mutation(({ ctx, input }) => {
  return transact(ctx, (tx, audit) =>
    backupCall(async () => {
      const scope = { mspId: ctx.tenant.mspId, customerId: ctx.tenant.customerId! };
      await pointRoot(tx, scope, input.pointId);
      const job = await createRestoreJob(tx, scope, {
        machineId: input.machineId,
        recoveryPointId: input.pointId,
        // Tree paths are the captured absolute paths without the leading "/": the agent resolves "original location" from them.
        paths: input.paths.map((p) => `/${splitPath(p).join("/")}`),
        destination: input.destination === "folder" ? { kind: "folder", path: input.targetPath! } : { kind: "original" },
        conflict: input.conflict === "keepBoth" ? "keep-both" : input.conflict,
        requestedByUserId: ctx.session.user.id,
      });
      await audit({
        ...scope,
        action: "restore.create",
        targetType: "restore_job",
        targetId: job.id,
        metadata: { machineId: input.machineId, pointId: input.pointId, paths: job.paths.slice(0, 20), destination: job.destination, conflict: job.conflict },
      });
      return job;
    }),
  );
});
