import { getRecoveryPoint } from "@tidemark/backup";
import { z } from "zod";
import { backupCall } from "../../domain/repository";
import { customerProcedure } from "../../tenant";
import { pointId } from "../ids";

export const getPointInput = z.object({ pointId });

/** Details: stats (files, bytes new, stored), consistency, sources, unreadable files. */
export const get = customerProcedure("machines.read", getPointInput).query(async ({ ctx, input }) => {
  const p = await backupCall(() => getRecoveryPoint(ctx.services.database.db, ctx.tenant.scope, input.pointId));
  const manifest = p.manifest as { sources?: string[]; host?: string; volumes?: Array<{ name: string; size: number }> };
  return {
    id: p.id,
    machineId: p.machineId,
    customerId: p.customerId,
    time: p.time,
    consistency: p.consistency,
    stats: p.stats,
    errors: p.errors,
    sources: manifest.sources ?? [],
    host: manifest.host ?? null,
    volumes: (manifest.volumes ?? []).map((v) => ({ name: v.name, size: v.size })),
    snapshotId: p.snapshotId,
  };
});
