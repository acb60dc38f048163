import { schema } from "@tidemark/db";
import { eq } from "drizzle-orm";
import { authedProcedure } from "../../trpc";

/** Who am I and where do I belong: drives the portal's navigation. */
export const get = authedProcedure.query(async ({ ctx }) => {
  const { db } = ctx.services.database;
  const rows = await db
    .select({
      mspId: schema.memberships.mspId,
      customerId: schema.memberships.customerId,
      role: schema.memberships.role,
      mspName: schema.msps.name,
      customerName: schema.customers.name,
      requireMfa: schema.msps.requireMfa,
    })
    .from(schema.memberships)
    .innerJoin(schema.msps, eq(schema.msps.id, schema.memberships.mspId))
    .leftJoin(schema.customers, eq(schema.customers.id, schema.memberships.customerId))
    .where(eq(schema.memberships.userId, ctx.session.user.id));
  const { user } = ctx.session;
  return {
    user: { id: user.id, email: user.email, name: user.name },
    mfaEnabled: user.twoFactorEnabled,
    memberships: rows.map((r) => ({
      kind: r.customerId ? ("customer" as const) : ("msp" as const),
      mspId: r.mspId,
      customerId: r.customerId ?? undefined,
      name: r.customerName ?? r.mspName,
      mspName: r.mspName,
      role: r.role,
      /** True when this MSP requires MFA and the user has none: the portal should send them to Settings. */
      mfaSetupRequired: !r.customerId && r.requireMfa && !user.twoFactorEnabled,
    })),
  };
});
