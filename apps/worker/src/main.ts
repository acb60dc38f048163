/**
 * Standalone worker process (production): `pnpm --filter @tidemark/worker start`.
 * The embedded default runs the same worker inside the portal instead.
 */
import { openDatabase } from "@tidemark/db";
import { startWorker } from "./worker";

const database = await openDatabase();
const worker = await startWorker({ database, log: (line) => console.log(line) });

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
