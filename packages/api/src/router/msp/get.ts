import { z } from "zod";
import { getMsp } from "../../domain/msps";
import { mspProcedure } from "../../tenant";
import { mspId } from "../ids";

export const getMspInput = z.object({ mspId });

export const get = mspProcedure("msp.read", getMspInput).query(({ ctx }) => getMsp(ctx.services.database.db, ctx.tenant.mspId));
