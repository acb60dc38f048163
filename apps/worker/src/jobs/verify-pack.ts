import type PgBoss from "pg-boss";
import { z } from "zod";

export const VERIFY_PACK_QUEUE = "verify-pack";
export const VERIFY_PACK_SWEEP_QUEUE = "verify-pack-sweep";
/** Every 5 minutes: a lost enqueue (crash between commit and send, worker down) waits at most this long. */
export const VERIFY_PACK_SWEEP_CRON = "*/5 * * * *";

export const packRef = z.object({ mspId: z.guid(), customerId: z.guid(), packId: z.string().regex(/^[0-9a-f]{64}$/) });
export type PackRef = z.infer<typeof packRef>;

/**
 * What the worker needs from the backup domain. Injected rather than imported:
 * `@tidemark/backup` pulls in the engine, which the portal's bundler cannot
 * load, and the portal embeds this worker.
 */
export type PackVerifier = {
  verify(pack: PackRef): Promise<{ state: string; checked: number; removed: string[] }>;
  /** Packs still pending that were reported before `olderThan`. */
  pending(olderThan: Date, limit: number): Promise<PackRef[]>;
  /** Sweep only packs pending for longer than this, so a pack whose job is merely queued is not enqueued twice. Default 60 s. */
  graceMs?: number;
};

/** Enqueue one pack's verification: what `reportPack`'s `onPackIndexed` should call. */
export async function enqueuePackVerification(boss: PgBoss, pack: PackRef): Promise<void> {
  // retries: reading storage / the database can fail transiently; a verdict is not an error.
  await boss.send(VERIFY_PACK_QUEUE, packRef.parse(pack), { retryLimit: 5, retryDelay: 30, retryBackoff: true });
}

export async function sweepPendingPacks(boss: PgBoss, verifier: PackVerifier): Promise<number> {
  const pending = await verifier.pending(new Date(Date.now() - (verifier.graceMs ?? 60_000)), 1000);
  for (const pack of pending) await enqueuePackVerification(boss, pack);
  return pending.length;
}

export async function registerPackVerification(boss: PgBoss, verifier: PackVerifier, log: (line: string) => void): Promise<void> {
  await boss.createQueue(VERIFY_PACK_QUEUE);
  await boss.createQueue(VERIFY_PACK_SWEEP_QUEUE);
  await boss.work(VERIFY_PACK_QUEUE, { pollingIntervalSeconds: 2, batchSize: 4 }, async (jobs) => {
    const results = [];
    // One at a time: each reads a whole pack into memory.
    for (const job of jobs) {
      const pack = packRef.parse(job.data);
      const result = await verifier.verify(pack);
      if (result.removed.length > 0) log(`worker: pack ${pack.packId} of customer ${pack.customerId} is bad: ${result.removed.length} of ${result.checked} entries unindexed`);
      results.push({ packId: pack.packId, state: result.state, checked: result.checked, removed: result.removed.length });
    }
    return results;
  });
  await boss.work(VERIFY_PACK_SWEEP_QUEUE, { pollingIntervalSeconds: 2 }, async () => ({ enqueued: await sweepPendingPacks(boss, verifier) }));
  await boss.schedule(VERIFY_PACK_SWEEP_QUEUE, VERIFY_PACK_SWEEP_CRON);
  // At start-up too: packs reported while no worker was running are picked up now, not in 5 minutes.
  await boss.send(VERIFY_PACK_SWEEP_QUEUE, {});
}
