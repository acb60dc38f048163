import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "@tidemark/db";
import { expect, it } from "vitest";
import { lastHeartbeat, startWorker } from "../src/index";

// The embedded default: pg-boss on PGlite through the same adapter, no second connection.
it("runs the heartbeat job on embedded PGlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tidemark-worker-"));
  const database = await openDatabase({ pgliteDir: dir });
  try {
    const worker = await startWorker({ database });
    try {
      let beat = null;
      for (let i = 0; i < 60 && !beat; i++) {
        await new Promise((r) => setTimeout(r, 250));
        beat = await lastHeartbeat(database);
      }
      expect(beat?.pid).toBe(process.pid);
    } finally {
      await worker.stop();
    }
  } finally {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000); // PGlite start + pg-boss migrations: 52 s at load 20 on 2 cores
