import { type DbOrTx, type TenantScope, type Tx, schema, scopeTo } from "@tidemark/db";
import { and, asc, count, eq } from "drizzle-orm";
import type { Audit } from "../audit";
import { notFound } from "./errors";

/** The customers table keys its own tenant column as `id`. */
const customerCols = { mspId: schema.customers.mspId, customerId: schema.customers.id };

export async function listCustomers(db: DbOrTx, scope: TenantScope) {
  const rows = await db
    .select({
      id: schema.customers.id,
      mspId: schema.customers.mspId,
      name: schema.customers.name,
      createdAt: schema.customers.createdAt,
      machineCount: count(schema.machines.id),
    })
    .from(schema.customers)
    .leftJoin(schema.machines, eq(schema.machines.customerId, schema.customers.id))
    .where(scopeTo(customerCols, scope))
    .groupBy(schema.customers.id)
    .orderBy(asc(schema.customers.name));
  return rows.map((r) => ({ ...r, machineCount: Number(r.machineCount) }));
}

export async function getCustomer(db: DbOrTx, scope: TenantScope, customerId: string) {
  const [row] = await db
    .select()
    .from(schema.customers)
    .where(and(eq(schema.customers.id, customerId), scopeTo(customerCols, scope)));
  if (!row) throw notFound("Customer");
  return row;
}

export async function createCustomer(tx: Tx, audit: Audit, mspId: string, name: string) {
  const [row] = await tx.insert(schema.customers).values({ mspId, name }).returning();
  await audit({ mspId, customerId: row!.id, action: "customer.create", targetType: "customer", targetId: row!.id, metadata: { name } });
  return row!;
}

export type CustomerChanges = { name?: string; storageQuotaBytes?: number | null };

/** Name and storage quota (null: no quota); the audit event carries before → after of what changed. */
export async function updateCustomer(tx: Tx, audit: Audit, scope: TenantScope, customerId: string, changes: CustomerChanges) {
  const before = await getCustomer(tx, scope, customerId);
  const [row] = await tx
    .update(schema.customers)
    .set(changes)
    .where(and(eq(schema.customers.id, customerId), scopeTo(customerCols, scope)))
    .returning();
  await audit({
    mspId: row!.mspId,
    customerId,
    action: "customer.update",
    targetType: "customer",
    targetId: customerId,
    metadata: {
      ...(changes.name !== undefined ? { from: before.name, to: changes.name } : {}),
      ...(changes.storageQuotaBytes !== undefined ? { storageQuotaBytes: { from: before.storageQuotaBytes, to: changes.storageQuotaBytes } } : {}),
    },
  });
  return row!;
}
