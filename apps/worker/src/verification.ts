/**
 * `@tidemark/worker/verification`: the jobs that read customers' repositories
 * (pack verification's services, scrub, restore tests, repository check) and
 * the glue to @tidemark/alerts. Separate from the main entry because it pulls
 * in the engine, which the portal's route bundles must not import.
 */
import { raiseAlert, resolveCondition } from "@tidemark/alerts";
import { type AlertSink, type BlobAccountOptions, createBlobAccount, kekFrom, type VerificationServices } from "@tidemark/backup";
import { decodeKey, env } from "@tidemark/config";
import type { Database, DbOrTx } from "@tidemark/db";

export { registerVerification, restoreTestScratch, type VerificationWorker, type VerificationWorkerOptions } from "./jobs/verification";
export { SCRUB_QUEUE, RESTORE_TEST_QUEUE, REPO_CHECK_QUEUE } from "./jobs/verification";
export { registerAlertJobs, type AlertJobDeps } from "./jobs/alerts";
export { kekSecretBox } from "@tidemark/alerts/kek";

/** Verification findings become alerts (routed to email/SMS/webhook by @tidemark/alerts). */
export function alertSink(db: DbOrTx): AlertSink {
  return {
    raise: (a, tx) => raiseAlert(tx ?? db, a),
    resolve: (r) => resolveCondition(db, r),
  };
}

export class VerificationUnavailable extends Error {}

/** The standalone worker's storage + KEK, from the same settings the portal's agent API uses. */
export function verificationServicesFromEnv(database: Database, log: (line: string) => void): VerificationServices {
  const e = env();
  if (!e.TIDEMARK_KEK) throw new VerificationUnavailable("TIDEMARK_KEK is not set: the worker cannot open customers' repositories (pack verification, scrub and restore tests are off)");
  const kek = decodeKey(e.TIDEMARK_KEK);
  if (!kek) throw new VerificationUnavailable("TIDEMARK_KEK must be 32 bytes encoded as base64 or hex");
  let blobs: BlobAccountOptions;
  if (e.AZURE_STORAGE_CONNECTION_STRING) blobs = { connectionString: e.AZURE_STORAGE_CONNECTION_STRING };
  else if (e.AZURE_STORAGE_ACCOUNT && e.AZURE_STORAGE_KEY) blobs = { account: e.AZURE_STORAGE_ACCOUNT, accountKey: e.AZURE_STORAGE_KEY };
  else throw new VerificationUnavailable("No Azure Storage account is configured: set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY");
  return { database, kek: kekFrom(kek), blobs: createBlobAccount(blobs), alerts: alertSink(database.db), log };
}
