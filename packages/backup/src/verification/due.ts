/**
 * What the worker's schedulers pick up: customers with a repository (scrub,
 * repository check) and machines whose restore test is due under their
 * policy. Worker-only: these read across tenants, as the scheduler must.
 */
import { type DbOrTx, schema } from "@tidemark/db";
import { sql } from "drizzle-orm";
import type { CustomerScope } from "../kek";

export async function customersWithRepository(db: DbOrTx): Promise<CustomerScope[]> {
  return db.select({ mspId: schema.customerKeys.mspId, customerId: schema.customerKeys.customerId }).from(schema.customerKeys);
}

/**
 * Machines with at least one point whose last restore test started longer ago than
 * their policy's `restoreTestEveryHours` (machine assignment, else the customer's
 * default policy, else 24 h), or that never had one.
 */
export async function machinesDueForRestoreTest(db: DbOrTx, now = new Date()): Promise<Array<CustomerScope & { machineId: string }>> {
  const rows = await db.execute<{ msp_id: string; customer_id: string; machine_id: string }>(sql`
    select m.msp_id, m.customer_id, m.id as machine_id
    from machines m
    where exists (select 1 from recovery_points rp where rp.machine_id = m.id and rp.customer_id = m.customer_id)
      and coalesce(
        (select max(rt.started_at) from restore_tests rt where rt.machine_id = m.id and rt.customer_id = m.customer_id),
        'epoch'::timestamptz
      ) < ${now.toISOString()}::timestamptz - make_interval(hours => coalesce(
        (select p.restore_test_every_hours from policy_assignments pa join policies p on p.id = pa.policy_id
          where pa.customer_id = m.customer_id and pa.machine_id = m.id limit 1),
        (select p.restore_test_every_hours from policy_assignments pa join policies p on p.id = pa.policy_id
          where pa.customer_id = m.customer_id and pa.machine_id is null limit 1),
        24))
  `);
  const list = (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows) as Array<{ msp_id: string; customer_id: string; machine_id: string }>;
  return list.map((r) => ({ mspId: r.msp_id, customerId: r.customer_id, machineId: r.machine_id }));
}

/** Customers whose last repository check started longer ago than the shortest `repoCheckEveryHours` of their policies (24 h default). */
export async function customersDueForRepositoryCheck(db: DbOrTx, now = new Date()): Promise<CustomerScope[]> {
  const rows = await db.execute(sql`
    select k.msp_id, k.customer_id
    from customer_keys k
    where coalesce(
      (select max(rc.started_at) from repository_checks rc where rc.customer_id = k.customer_id),
      'epoch'::timestamptz
    ) < ${now.toISOString()}::timestamptz - make_interval(hours => coalesce(
      (select min(p.repo_check_every_hours) from policy_assignments pa join policies p on p.id = pa.policy_id where pa.customer_id = k.customer_id),
      24))
  `);
  const list = (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows) as Array<{ msp_id: string; customer_id: string }>;
  return list.map((r) => ({ mspId: r.msp_id, customerId: r.customer_id }));
}

