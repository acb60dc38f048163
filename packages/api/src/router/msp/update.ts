import { z } from "zod";
import { transact } from "../../audit";
import { updateMsp } from "../../domain/msps";
import { mspProcedure } from "../../tenant";
import { mspId, name } from "../ids";

export const updateMspInput = z
  .object({ mspId, name: name.optional(), requireMfa: z.boolean().optional() })
  .refine((v) => v.name !== undefined || v.requireMfa !== undefined, { error: "Nothing to change", path: ["name"] });

export const update = mspProcedure("msp.manage", updateMspInput).mutation(({ ctx, input }) =>
  transact(ctx, (tx, audit) =>
    updateMsp(tx, audit, ctx.tenant.mspId, { name: input.name, requireMfa: input.requireMfa }, ctx.session.user),
  ),
);
