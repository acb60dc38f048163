import { customerStorage, machineProtection } from "@tidemark/backup";
import { z } from "zod";
import { customerProcedure } from "../../tenant";
import { customerId } from "../ids";

export const customerStorageInput = z.object({ customerId });

/** Dashboard numbers: logical bytes protected, bytes stored, dedup ratio, points, machines at risk. */
export const storage = customerProcedure("customers.read", customerStorageInput).query(async ({ ctx, input }) => {
  const { db } = ctx.services.database;
  const [stats, machines] = await Promise.all([customerStorage(db, ctx.tenant.scope, input.customerId), machineProtection(db, ctx.tenant.scope, input.customerId)]);
  // At risk: protection is behind its RPO, never started, or the agent stopped reporting.
  const atRisk = machines.filter((m) => !m.revoked && (m.rpo !== "ok" || !m.online));
  return { ...stats, machines: machines.length, machinesAtRisk: atRisk.length, atRisk: atRisk.map((m) => ({ id: m.id, name: m.name, rpo: m.rpo, online: m.online })) };
});
