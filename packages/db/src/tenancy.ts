/**
 * The ONE place tenant filters are built. The API never writes
 * `eq(table.mspId, …)` itself: it asks for a scope here, so a missed filter is
 * a missing call, visible in review, rather than a subtly wrong condition.
 */
import { and, eq, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";

type MspOwned = { mspId: PgColumn };
type CustomerOwned = { mspId: PgColumn; customerId: PgColumn };

/**
 * What a caller may see after membership was checked: a whole MSP, or one of
 * its customers.
 */
export type TenantScope = { mspId: string; customerId?: string | null };

export function scopeToMsp(table: MspOwned, mspId: string): SQL {
  return eq(table.mspId, mspId);
}

/** Both keys: a customer id from another MSP can never match. */
export function scopeToCustomer(table: CustomerOwned, scope: { mspId: string; customerId: string }): SQL {
  return and(eq(table.mspId, scope.mspId), eq(table.customerId, scope.customerId))!;
}

/**
 * Rows visible to a scope. MSP-wide scopes see every customer's rows; a
 * customer scope sees its own rows only, and never MSP-level rows of tables
 * that have no customer column.
 */
export function scopeTo(table: MspOwned & { customerId?: PgColumn }, scope: TenantScope): SQL {
  if (!scope.customerId) return scopeToMsp(table, scope.mspId);
  if (!table.customerId) throw new Error("A customer-scoped caller cannot read MSP-level rows of this table");
  return scopeToCustomer(table as CustomerOwned, { mspId: scope.mspId, customerId: scope.customerId });
}
