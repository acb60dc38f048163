/**
 * Verification jobs (issue 5): the rolling scrub, restore tests and the
 * repository check, each a pg-boss queue fed by an hourly sweep that works
 * out what is due, plus the portal's "verify now" / "run a restore test"
 * requests (rows in verification_requests, polled every couple of seconds).
 *
 * This module imports @tidemark/backup (and so the engine): it is reached
 * only through the `@tidemark/worker/verification` entry, never from the
 * package's main entry the portal's route bundles import.
 */
import { join } from "node:path";
import {
  claimVerificationRequest,
  customerPackBytes,
  customerScrubPeriodDays,
  customersDueForRepositoryCheck,
  customersWithRepository,
  finishVerificationRequest,
  machinesDueForRestoreTest,
  openCustomerRepo,
  runRepositoryCheck,
  runRestoreTest,
  scrubBudget,
  scrubCustomer,
  type VerificationServices,
} from "@tidemark/backup";
import type PgBoss from "pg-boss";
import { z } from "zod";

export const SCRUB_QUEUE = "scrub";
export const SCRUB_SWEEP_QUEUE = "scrub-sweep";
export const RESTORE_TEST_QUEUE = "restore-test";
export const RESTORE_TEST_SWEEP_QUEUE = "restore-test-sweep";
export const REPO_CHECK_QUEUE = "repo-check";
export const REPO_CHECK_SWEEP_QUEUE = "repo-check-sweep";
/**
 * Portal requests run on their own queues: a technician's "verify now" must not
 * wait behind an hour-long throttled scheduled scrub of another customer.
 */
export const NOW = (queue: string) => `${queue}-now`;
/** Hourly, at different minutes so the three sweeps do not start together. */
const SCRUB_SWEEP_CRON = "7 * * * *";
const RESTORE_TEST_SWEEP_CRON = "23 * * * *";
const REPO_CHECK_SWEEP_CRON = "41 * * * *";
const SCRUB_INTERVAL_MS = 3600_000;

const customerRef = z.object({ mspId: z.guid(), customerId: z.guid() });
const scrubJob = customerRef.extend({ full: z.boolean().default(false), requestId: z.guid().optional() });
const restoreTestJob = customerRef.extend({ machineId: z.guid(), pointId: z.guid().optional(), requestId: z.guid().optional() });
const repoCheckJob = customerRef.extend({ requestId: z.guid().optional() });

export type VerificationWorkerOptions = {
  services: VerificationServices;
  /** Restore tests write here (a folder per test, removed afterwards): `<data dir>/scratch/restore-tests`. */
  scratchRoot: string;
  /** Scheduled scrub read rate (bytes/s); default 32 MiB/s so backups keep the bandwidth. */
  scrubBytesPerSecond?: number;
  /** "Verify now" read rate; default unthrottled (the technician asked for it). */
  verifyNowBytesPerSecond?: number;
  /** How often portal requests are polled; default 2000 ms. */
  requestPollMs?: number;
};

export type VerificationWorker = { stop(): void; pollRequests(): Promise<number> };

export async function registerVerification(boss: PgBoss, opts: VerificationWorkerOptions, log: (line: string) => void): Promise<VerificationWorker> {
  const svc = opts.services;
  const db = svc.database.db;
  const queues = [SCRUB_QUEUE, RESTORE_TEST_QUEUE, REPO_CHECK_QUEUE];
  // 'stately': at most one queued and one running job per singletonKey (customer / machine), so an hourly sweep
  // never stacks a second scrub of a customer whose previous one is still waiting (pg-boss ignores singletonKey
  // on 'standard' queues).
  // createQueue never changes an existing queue, and a database from before this setting has these as
  // 'standard': set the policy on the existing row too (jobs take the queue's policy when sent).
  for (const q of queues) {
    await boss.createQueue(q, { name: q, policy: "stately" });
    if ((await boss.getQueue(q))?.policy !== "stately") await boss.updateQueue(q, { name: q, policy: "stately" });
  }
  for (const q of [...queues.map(NOW), SCRUB_SWEEP_QUEUE, RESTORE_TEST_SWEEP_QUEUE, REPO_CHECK_SWEEP_QUEUE]) await boss.createQueue(q);
  /** The same handler on the scheduled queue and its "now" twin. */
  async function work(queue: string, handler: (data: unknown) => Promise<Record<string, unknown>>) {
    for (const q of [queue, NOW(queue)]) await boss.work(q, { pollingIntervalSeconds: 1, batchSize: 1 }, async ([job]) => handler(job!.data));
  }

  /** Runs `fn` for a job; when the job came from a portal request, the request is finished with its outcome. */
  async function asRequest<T extends Record<string, unknown>>(requestId: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      const result = await fn();
      if (requestId) await finishVerificationRequest(db, requestId, { result });
      return result;
    } catch (err) {
      if (requestId) await finishVerificationRequest(db, requestId, { error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  }

  // ── scrub ──
  await work(SCRUB_QUEUE, async (raw) => {
    const data = scrubJob.parse(raw);
    return asRequest(data.requestId, async () => {
      const repo = await openCustomerRepo(svc, data);
      if (!repo) return { skipped: "no repository" };
      const period = await customerScrubPeriodDays(repo);
      const budget = data.full ? Infinity : scrubBudget(await customerPackBytes(repo), period, SCRUB_INTERVAL_MS);
      const r = await scrubCustomer(repo, {
        budgetBytes: budget,
        bytesPerSecond: data.full ? (opts.verifyNowBytesPerSecond ?? 0) : (opts.scrubBytesPerSecond ?? 32 * 1024 * 1024),
        concurrency: data.full ? 4 : 1,
      });
      if (r.bad.length > 0) log(`worker: scrub of customer ${data.customerId}: ${r.bad.length} bad chunk(s), ${r.damage?.points.length ?? 0} point(s) damaged`);
      return { packs: r.packs, bytes: r.bytes, chunks: r.chunks, durationMs: r.durationMs, badChunks: r.bad.length, damagedPoints: r.damage?.points.length ?? 0 };
    });
  });
  await boss.work(SCRUB_SWEEP_QUEUE, { pollingIntervalSeconds: 5 }, async () => {
    const customers = await customersWithRepository(db);
    for (const c of customers) await boss.send(SCRUB_QUEUE, { ...c, full: false }, { singletonKey: `scrub:${c.customerId}`, retryLimit: 2, retryDelay: 300 });
    return { enqueued: customers.length };
  });
  await boss.schedule(SCRUB_SWEEP_QUEUE, SCRUB_SWEEP_CRON);

  // ── restore tests ──
  await work(RESTORE_TEST_QUEUE, async (raw) => {
    const data = restoreTestJob.parse(raw);
    return asRequest(data.requestId, async () => {
      const repo = await openCustomerRepo(svc, data);
      if (!repo) return { skipped: "no repository" };
      const t = await runRestoreTest(repo, data.machineId, { trigger: data.requestId ? "manual" : "schedule", pointId: data.pointId, scratchRoot: opts.scratchRoot });
      if (!t) return { skipped: "no recovery point" };
      return { restoreTestId: t.id, state: t.state, files: t.files, bytes: t.bytes, durationMs: t.durationMs ?? 0 };
    });
  });
  await boss.work(RESTORE_TEST_SWEEP_QUEUE, { pollingIntervalSeconds: 5 }, async () => {
    const due = await machinesDueForRestoreTest(db);
    for (const m of due) await boss.send(RESTORE_TEST_QUEUE, m, { singletonKey: `restore-test:${m.machineId}`, retryLimit: 1, retryDelay: 600 });
    return { enqueued: due.length };
  });
  await boss.schedule(RESTORE_TEST_SWEEP_QUEUE, RESTORE_TEST_SWEEP_CRON);

  // ── repository check ──
  await work(REPO_CHECK_QUEUE, async (raw) => {
    const data = repoCheckJob.parse(raw);
    return asRequest(data.requestId, async () => {
      const repo = await openCustomerRepo(svc, data);
      if (!repo) return { skipped: "no repository" };
      const { check, damage } = await runRepositoryCheck(repo);
      return { repositoryCheckId: check.id, state: check.state, missingPacks: check.missingPacks.length, damagedPoints: damage?.points.length ?? 0 };
    });
  });
  await boss.work(REPO_CHECK_SWEEP_QUEUE, { pollingIntervalSeconds: 5 }, async () => {
    const due = await customersDueForRepositoryCheck(db);
    for (const c of due) await boss.send(REPO_CHECK_QUEUE, c, { singletonKey: `repo-check:${c.customerId}`, retryLimit: 2, retryDelay: 300 });
    return { enqueued: due.length };
  });
  await boss.schedule(REPO_CHECK_SWEEP_QUEUE, REPO_CHECK_SWEEP_CRON);

  // ── portal requests ──
  async function pollRequests(): Promise<number> {
    let n = 0;
    for (;;) {
      const req = await claimVerificationRequest(db);
      if (!req) return n;
      n++;
      const base = { mspId: req.mspId, customerId: req.customerId, requestId: req.id };
      try {
        if (req.kind === "scrub") await boss.send(NOW(SCRUB_QUEUE), { ...base, full: true });
        else if (req.kind === "repository_check") await boss.send(NOW(REPO_CHECK_QUEUE), base);
        else if (req.machineId) await boss.send(NOW(RESTORE_TEST_QUEUE), { ...base, machineId: req.machineId, ...(req.recoveryPointId ? { pointId: req.recoveryPointId } : {}) });
        else await finishVerificationRequest(db, req.id, { error: "restore test request names no machine" });
      } catch (err) {
        await finishVerificationRequest(db, req.id, { error: `could not queue: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
  }
  let polling = false;
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    pollRequests()
      .catch((err: unknown) => log(`worker: verification requests: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        polling = false;
      });
  }, opts.requestPollMs ?? 2000);
  timer.unref();
  log(`worker: verification jobs registered (scrub, restore tests, repository check; scratch ${opts.scratchRoot})`);
  return { stop: () => clearInterval(timer), pollRequests };
}

/** Default scratch space for restore tests under a data dir. */
export const restoreTestScratch = (dataDir: string) => join(dataDir, "scratch", "restore-tests");
