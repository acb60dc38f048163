/**
 * The authorization gate. A tenant id in the input is untrusted: the object it
 * names is loaded only through the caller's own memberships (via the tenancy
 * helper), so an object of another tenant is indistinguishable from one that
 * does not exist (NOT_FOUND). Then the caller's role must hold the permission.
 */
import { can, type Permission } from "@tidemark/auth/permissions";
import { type Db, type TenantScope, schema, scopeTo } from "@tidemark/db";
import type { Role } from "@tidemark/db/schema";
import { TRPCError } from "@trpc/server";
import { and, eq, or, type SQL } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { z } from "zod";
import { authedProcedure } from "./trpc";

type Membership = typeof schema.memberships.$inferSelect;

/** How each id an input may carry maps to its table and tenant columns. */
type Resource = { label: string; table: PgTable; id: PgColumn; mspId: PgColumn; customerId?: PgColumn };
const resources = {
  machineId: { label: "Machine", table: schema.machines, id: schema.machines.id, mspId: schema.machines.mspId, customerId: schema.machines.customerId },
  tokenId: { label: "Enrollment token", table: schema.enrollmentTokens, id: schema.enrollmentTokens.id, mspId: schema.enrollmentTokens.mspId, customerId: schema.enrollmentTokens.customerId },
  invitationId: { label: "Invitation", table: schema.invitations, id: schema.invitations.id, mspId: schema.invitations.mspId, customerId: schema.invitations.customerId },
  membershipId: { label: "Member", table: schema.memberships, id: schema.memberships.id, mspId: schema.memberships.mspId, customerId: schema.memberships.customerId },
  pointId: { label: "Recovery point", table: schema.recoveryPoints, id: schema.recoveryPoints.id, mspId: schema.recoveryPoints.mspId, customerId: schema.recoveryPoints.customerId },
  jobId: { label: "Restore job", table: schema.restoreJobs, id: schema.restoreJobs.id, mspId: schema.restoreJobs.mspId, customerId: schema.restoreJobs.customerId },
  policyId: { label: "Policy", table: schema.policies, id: schema.policies.id, mspId: schema.policies.mspId },
  // An alert or channel of the MSP itself has no customer: only MSP members see those.
  alertId: { label: "Alert", table: schema.alerts, id: schema.alerts.id, mspId: schema.alerts.mspId, customerId: schema.alerts.customerId },
  channelId: { label: "Alert channel", table: schema.alertChannels, id: schema.alertChannels.id, mspId: schema.alertChannels.mspId, customerId: schema.alertChannels.customerId },
  customerId: { label: "Customer", table: schema.customers, id: schema.customers.id, mspId: schema.customers.mspId, customerId: schema.customers.id },
  mspId: { label: "MSP", table: schema.msps, id: schema.msps.id, mspId: schema.msps.id },
} satisfies Record<string, Resource>;
type ResourceKey = keyof typeof resources;
const resourceKeys = Object.keys(resources) as ResourceKey[];

export type Tenant = {
  mspId: string;
  /** The customer the referenced object belongs to; null for MSP-level objects. */
  customerId: string | null;
  role: Role;
  kind: "msp" | "customer";
  /** What the handler may query: the whole MSP, or exactly one customer. */
  scope: TenantScope;
};

export const MFA_REQUIRED_MESSAGE = "MFA required by your MSP — enable it in Settings";

function membershipScope(m: Membership): TenantScope {
  return m.customerId ? { mspId: m.mspId, customerId: m.customerId } : { mspId: m.mspId };
}

async function locate(db: Db, key: ResourceKey, id: string, memberships: Membership[]) {
  const r: Resource = resources[key];
  const visible: SQL[] = memberships
    .filter((m) => r.customerId || !m.customerId)
    .map((m) => scopeTo({ mspId: r.mspId, customerId: r.customerId }, membershipScope(m)));
  const notFound = new TRPCError({ code: "NOT_FOUND", message: `${r.label} not found` });
  if (visible.length === 0) throw notFound;
  const [row] = await db
    .select({ mspId: r.mspId, customerId: r.customerId ?? r.mspId })
    .from(r.table)
    .where(and(eq(r.id, id), or(...visible)))
    .limit(1);
  if (!row) throw notFound;
  return { mspId: row.mspId as string, customerId: r.customerId ? ((row.customerId as string | null) ?? null) : null };
}

export async function resolveTenant(
  db: Db,
  user: { id: string; twoFactorEnabled: boolean },
  input: Record<string, unknown>,
  permission: Permission,
  level: "msp" | "customer",
): Promise<Tenant> {
  const memberships = await db.select().from(schema.memberships).where(eq(schema.memberships.userId, user.id));
  let mspId: string | null = null;
  let customerId: string | null = null;
  let label = "Object";
  for (const key of resourceKeys) {
    const value = input[key];
    if (typeof value !== "string") continue;
    // An MSP id beside a more specific object only has to agree with it: customer
    // members may name their MSP without having MSP-level access.
    if (key === "mspId" && mspId) {
      if (value !== mspId) throw new TRPCError({ code: "NOT_FOUND", message: "MSP not found" });
      continue;
    }
    const found = await locate(db, key, value, memberships);
    // Several ids in one input must all name the same tenant.
    if ((mspId && found.mspId !== mspId) || (customerId && found.customerId && found.customerId !== customerId)) {
      throw new TRPCError({ code: "NOT_FOUND", message: `${resources[key].label} not found` });
    }
    mspId = found.mspId;
    customerId ??= found.customerId;
    label = resources[key].label;
  }
  if (!mspId) throw new Error("Procedure input names no tenant: add mspId, customerId or an object id");

  const mspMembership = memberships.find((m) => m.mspId === mspId && !m.customerId);
  const customerMembership = customerId ? memberships.find((m) => m.customerId === customerId) : undefined;
  const membership = mspMembership ?? (level === "customer" ? customerMembership : undefined);
  if (!membership) {
    if (customerMembership) throw new TRPCError({ code: "FORBIDDEN", message: "This needs an MSP role" });
    throw new TRPCError({ code: "NOT_FOUND", message: `${label} not found` });
  }
  if (!can(membership.role, permission)) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: `Your role (${membership.role.replace("_", " ")}) does not allow ${permission}`,
    });
  }
  if (!membership.customerId && !user.twoFactorEnabled) {
    const [msp] = await db.select({ requireMfa: schema.msps.requireMfa }).from(schema.msps).where(eq(schema.msps.id, mspId));
    if (msp?.requireMfa) throw new TRPCError({ code: "FORBIDDEN", message: MFA_REQUIRED_MESSAGE });
  }
  const kind = membership.customerId ? "customer" : "msp";
  return {
    mspId,
    customerId,
    role: membership.role,
    kind,
    scope: level === "customer" && customerId ? { mspId, customerId } : { mspId },
  };
}

function tenantProcedure<S extends z.ZodType<Record<string, unknown>>>(level: "msp" | "customer", permission: Permission, input: S) {
  return authedProcedure.input(input).use(async ({ ctx, input, next }) => {
    const tenant = await resolveTenant(ctx.services.database.db, ctx.session.user, input as Record<string, unknown>, permission, level);
    return next({ ctx: { ...ctx, tenant } });
  });
}

/** Only MSP staff (owner/admin/technician/read-only) of the MSP owning the referenced object. */
export function mspProcedure<S extends z.ZodType<Record<string, unknown>>>(permission: Permission, input: S) {
  return tenantProcedure("msp", permission, input);
}

/** MSP staff of the owning MSP, or members of the customer the object belongs to. */
export function customerProcedure<S extends z.ZodType<Record<string, unknown>>>(permission: Permission, input: S) {
  return tenantProcedure("customer", permission, input);
}
