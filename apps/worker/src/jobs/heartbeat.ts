import { hostname } from "node:os";
import { z } from "zod";
import type { QueryableDatabase } from "../boss-db";

export const HEARTBEAT_QUEUE = "heartbeat";
/** Every minute: proves the queue, the scheduler and a worker are alive. */
export const HEARTBEAT_CRON = "* * * * *";

export const heartbeatOutput = z.object({ at: z.string(), host: z.string(), pid: z.number().int() });
export type Heartbeat = z.infer<typeof heartbeatOutput>;

/**
 * The job's output is its record: pg-boss keeps completed jobs (and later
 * archives them), so no table of our own is needed to observe the worker.
 */
export function runHeartbeat(): Heartbeat {
  return { at: new Date().toISOString(), host: hostname(), pid: process.pid };
}

/** The most recent completed heartbeat, or null when the worker never ran one. */
export async function lastHeartbeat(database: QueryableDatabase, schema = "pgboss"): Promise<Heartbeat | null> {
  const { rows } = await database.query(
    `SELECT output, output->>'at' AS at FROM ${schema}.job WHERE name = $1 AND state = 'completed'
     UNION ALL
     SELECT output, output->>'at' AS at FROM ${schema}.archive WHERE name = $1 AND state = 'completed'
     ORDER BY at DESC LIMIT 1`,
    [HEARTBEAT_QUEUE],
  );
  const parsed = heartbeatOutput.safeParse(rows[0]?.output);
  return parsed.success ? parsed.data : null;
}
