import { machineProtection, storedBytesByMachine } from "@tidemark/backup";
import { z } from "zod";
import { customerProcedure } from "../../tenant";
import { customerId } from "../ids";

export const machineProtectionInput = z.object({ customerId });

/** The machines table: online, RPO state, protected/stored bytes, agent version, last error. */
export const protection = customerProcedure("machines.read", machineProtectionInput).query(async ({ ctx, input }) => {
  const { db } = ctx.services.database;
  const [machines, stored] = await Promise.all([
    machineProtection(db, ctx.tenant.scope, input.customerId),
    storedBytesByMachine(db, ctx.tenant.scope, input.customerId),
  ]);
  return machines.map((m) => ({ ...m, storedBytes: stored.get(m.id) ?? 0 }));
});
