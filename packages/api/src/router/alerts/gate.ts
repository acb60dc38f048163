/**
 * Alerts and channels are addressed by their own id. The shared tenant gate
 * knows the tenant of the ids it lists; for these, the row's own msp/customer
 * is looked up first and then the SAME gate (resolveTenant) decides, with the
 * membership check, permission and MFA rule every other procedure gets. An
 * object of another tenant answers exactly like one that does not exist.
 */
import type { Permission } from "@tidemark/auth/permissions";
import { type Db, schema } from "@tidemark/db";
import { TRPCError } from "@trpc/server";
import { eq } from "drizzle-orm";
import type { z } from "zod";
import { resolveTenant } from "../../tenant";
import { authedProcedure } from "../../trpc";

type Owned = { label: string; find(db: Db, id: string): Promise<{ mspId: string; customerId: string | null } | undefined> };

const owners = {
  alertId: {
    label: "Alert",
    find: async (db, id) => (await db.select({ mspId: schema.alerts.mspId, customerId: schema.alerts.customerId }).from(schema.alerts).where(eq(schema.alerts.id, id)))[0],
  },
  channelId: {
    label: "Alert channel",
    find: async (db, id) => (await db.select({ mspId: schema.alertChannels.mspId, customerId: schema.alertChannels.customerId }).from(schema.alertChannels).where(eq(schema.alertChannels.id, id)))[0],
  },
} satisfies Record<string, Owned>;

export function ownedProcedure<S extends z.ZodType<Record<string, unknown>>>(key: keyof typeof owners, level: "msp" | "customer", permission: Permission, input: S) {
  return authedProcedure.input(input).use(async ({ ctx, input, next }) => {
    const owner = owners[key];
    const id = (input as Record<string, unknown>)[key] as string;
    const db = ctx.services.database.db;
    const notFound = new TRPCError({ code: "NOT_FOUND", message: `${owner.label} not found` });
    const row = await owner.find(db, id);
    if (!row) throw notFound;
    let tenant;
    try {
      tenant = await resolveTenant(db, ctx.session.user, row.customerId ? { customerId: row.customerId, mspId: row.mspId } : { mspId: row.mspId }, permission, level);
    } catch (e) {
      // "Customer not found" would tell an outsider the alert exists; say what a missing one says.
      if (e instanceof TRPCError && e.code === "NOT_FOUND") throw notFound;
      throw e;
    }
    return next({ ctx: { ...ctx, tenant } });
  });
}
