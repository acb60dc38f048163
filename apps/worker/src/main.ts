/**
 * Standalone worker process (production): `pnpm --filter @tidemark/worker start`.
 * The embedded default runs the same worker inside the portal instead.
 */
import { kekSecretBox } from "@tidemark/alerts/kek";
import { kekFrom, packVerifier } from "@tidemark/backup";
import { dataDir, decodeKey, env } from "@tidemark/config";
import { openDatabase } from "@tidemark/db";
import { createMailer } from "@tidemark/notify";
import { registerAlertJobs } from "./jobs/alerts";
import { registerPackVerification } from "./jobs/verify-pack";
import { registerVerification, restoreTestScratch, verificationServicesFromEnv, VerificationUnavailable } from "./verification";
import { startWorker } from "./worker";

// PGlite is single-process: a second process on the portal's data dir would corrupt it.
if (!env().DATABASE_URL) {
  process.stderr.write("Configuration error: DATABASE_URL is required for the standalone worker (the embedded default runs the worker inside the portal)\n");
  process.exit(2);
}

const log = (line: string) => console.log(line);

async function start() {
  const database = await openDatabase();
  try {
    const worker = await startWorker({ database, log });
    const stops: Array<() => void> = [];
    const e = env();
    const kek = e.TIDEMARK_KEK ? decodeKey(e.TIDEMARK_KEK) : null;
    // Alert delivery and monitors need no storage; the KEK opens webhook secrets (without it webhooks fail, saying so).
    const secrets = kek
      ? kekSecretBox(kekFrom(kek))
      : {
          wrap: () => {
            throw new Error("TIDEMARK_KEK is not set: webhook secrets cannot be stored");
          },
          unwrap: () => {
            throw new Error("TIDEMARK_KEK is not set: webhook secrets cannot be opened");
          },
        };
    const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, "");
    const mailer = createMailer({ database, smtpUrl: e.SMTP_URL, from: e.MAIL_FROM });
    stops.push((await registerAlertJobs(worker.boss, { db: database.db, mailer, publicUrl, secrets }, log)).stop);
    try {
      const services = verificationServicesFromEnv(database, log);
      await registerPackVerification(worker.boss, packVerifier(services, { alerts: services.alerts }), log);
      stops.push((await registerVerification(worker.boss, { services, scratchRoot: restoreTestScratch(dataDir()) }, log)).stop);
    } catch (err) {
      // Without storage settings there is nothing to verify; the rest of the worker still runs. Say why once.
      if (!(err instanceof VerificationUnavailable)) throw err;
      log(`worker: verification off — ${err.message}`);
    }
    return { database, worker, stopJobs: () => stops.forEach((stop) => stop()) };
  } catch (err) {
    await database.close();
    throw err;
  }
}

// One line an operator can act on ("connection refused", "password authentication failed"), not a stack.
const { database, worker, stopJobs } = await start().catch((err: unknown) => {
  process.stderr.write(`Tidemark worker could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

let closing = false;
async function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  console.log(`worker: ${signal}, stopping`);
  stopJobs();
  await worker.stop();
  await database.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
