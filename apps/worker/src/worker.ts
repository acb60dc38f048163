import PgBoss from "pg-boss";
import { bossDb, type QueryableDatabase } from "./boss-db";
import { HEARTBEAT_CRON, HEARTBEAT_QUEUE, runHeartbeat } from "./jobs/heartbeat";
import { type PackVerifier, registerPackVerification } from "./jobs/verify-pack";

export type WorkerOptions = {
  database: QueryableDatabase;
  /** pg-boss schema; tests may isolate themselves with their own. */
  schema?: string;
  log?: (line: string) => void;
  /** Verifies agent-reported packs (`verify-pack` + its sweep); built by the host from `@tidemark/backup`. */
  packVerifier?: PackVerifier;
};

export type RunningWorker = { boss: PgBoss; stop(): Promise<void> };

export async function startWorker({ database, schema = "pgboss", log = () => {}, packVerifier }: WorkerOptions): Promise<RunningWorker> {
  const boss = new PgBoss({
    db: bossDb(database),
    schema,
    // Scheduling is evaluated by whichever worker holds the lock; 30 s keeps a
    // once-a-minute cron on time without hammering a single PGlite connection.
    cronMonitorIntervalSeconds: 30,
  });
  boss.on("error", (err: unknown) => log(`worker: ${err instanceof Error ? err.message : String(err)}`));
  await boss.start();

  // pg-boss 10: a queue must exist before anything is sent to it.
  await boss.createQueue(HEARTBEAT_QUEUE);
  await boss.work(HEARTBEAT_QUEUE, { pollingIntervalSeconds: 2 }, async (jobs) => jobs.map(() => runHeartbeat()).at(-1));
  await boss.schedule(HEARTBEAT_QUEUE, HEARTBEAT_CRON);
  // One beat right away so a fresh start is observable before the first minute turns.
  await boss.send(HEARTBEAT_QUEUE, {});
  if (packVerifier) await registerPackVerification(boss, packVerifier, log);

  log(`worker: started (${database.kind}, schema ${schema})`);
  let stopped = false;
  return {
    boss,
    async stop() {
      if (stopped) return;
      stopped = true;
      // close:false — the database belongs to the caller, not to pg-boss.
      await boss.stop({ graceful: true, close: false, timeout: 5_000, wait: true });
    },
  };
}
