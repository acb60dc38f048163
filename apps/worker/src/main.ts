/**
 * Standalone worker process (production): `pnpm --filter @tidemark/worker start`.
 * The embedded default runs the same worker inside the portal instead.
 */
import { env } from "@tidemark/config";
import { openDatabase } from "@tidemark/db";
import { startWorker } from "./worker";

// PGlite is single-process: a second process on the portal's data dir would corrupt it.
if (!env().DATABASE_URL) {
  process.stderr.write("Configuration error: DATABASE_URL is required for the standalone worker (the embedded default runs the worker inside the portal)\n");
  process.exit(2);
}

async function start() {
  const database = await openDatabase();
  try {
    return { database, worker: await startWorker({ database, log: (line) => console.log(line) }) };
  } catch (err) {
    await database.close();
    throw err;
  }
}

// One line an operator can act on ("connection refused", "password authentication failed"), not a stack.
const { database, worker } = await start().catch((err: unknown) => {
  process.stderr.write(`Tidemark worker could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

let closing = false;
async function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  console.log(`worker: ${signal}, stopping`);
  await worker.stop();
  await database.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
