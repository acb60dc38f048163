import { z } from "zod";
import { transact } from "../../audit";
import { createMspForUser } from "../../domain/msps";
import { authedProcedure } from "../../trpc";
import { name } from "../ids";

export const createMspInput = z.object({ name });

export const createMsp = authedProcedure
  .input(createMspInput)
  .mutation(({ ctx, input }) => transact(ctx, (tx, audit) => createMspForUser(tx, audit, ctx.session.user.id, input.name)));
