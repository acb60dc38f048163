import { createTestDatabase } from "@tidemark/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bossDb, lastHeartbeat, startWorker } from "../src/index";

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

async function waitFor<T>(probe: () => Promise<T | null>, timeoutMs: number): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("worker on real PostgreSQL", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("has no heartbeat before the worker ever ran", async () => {
    // pg-boss has not installed its schema yet, so the probe itself must fail loudly, not invent a beat.
    await expect(lastHeartbeat(database)).rejects.toThrow(/pgboss/);
  });

  it("runs the heartbeat job and records it in pg-boss's job state", async () => {
    const started = Date.now();
    const worker = await startWorker({ database });
    try {
      const beat = await waitFor(() => lastHeartbeat(database), 15_000);
      expect(beat).not.toBeNull();
      expect(beat!.pid).toBe(process.pid);
      expect(Date.parse(beat!.at)).toBeGreaterThanOrEqual(started - 1000);
      // The every-minute schedule is registered, not just the one-off start-up beat.
      const schedules = await worker.boss.getSchedules();
      expect(schedules.map((s) => [s.name, s.cron])).toContainEqual(["heartbeat", "* * * * *"]);
    } finally {
      await worker.stop();
    }
  });

  it("stops cleanly and leaves the caller's database open", async () => {
    const worker = await startWorker({ database });
    await worker.stop();
    await worker.stop(); // idempotent
    const { rows } = await database.query("select 1 as one");
    expect(rows[0].one).toBe(1);
  });

  it("passes SQL errors from the adapter through instead of swallowing them", async () => {
    await expect(bossDb(database).executeSql("select * from no_such_table where id = $1", [1])).rejects.toThrow(/no_such_table/);
  });
});
