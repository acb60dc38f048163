import { pointDamage } from "@tidemark/backup";
import { z } from "zod";
import { backupCall } from "../../domain/repository";
import { customerProcedure } from "../../tenant";
import { pointId } from "../ids";

export const damageInput = z.object({ pointId });

/** A point's health and, when damaged or healed, the files that were affected. */
export const damage = customerProcedure("machines.read", damageInput).query(({ ctx, input }) =>
  backupCall(() => pointDamage(ctx.services.database.db, ctx.tenant.scope, input.pointId)),
);
