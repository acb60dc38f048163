/**
 * The scheduled verification queues keep one queued job per customer/machine
 * (the hourly sweep must not stack scrubs of a customer whose previous run is
 * still waiting), while portal requests run on their own queues.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBlobAccount, kekFrom, noAlerts } from "@tidemark/backup";
import { createTestDatabase, type TestDatabase } from "@tidemark/db/testing";
import { azuriteConnectionString } from "@tidemark/storage/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningWorker, startWorker } from "../src/index";
import { NOW, SCRUB_QUEUE } from "../src/jobs/verification";
import { registerVerification, type VerificationWorker } from "../src/verification";

let database: TestDatabase;
let worker: RunningWorker;
let verification: VerificationWorker;
let scratch: string;

beforeAll(async () => {
  database = await createTestDatabase();
  scratch = await mkdtemp(join(tmpdir(), "tm-vq-"));
  worker = await startWorker({ database });
  // Storage is never reached here: nothing is enqueued that would read a container.
  const blobs = createBlobAccount({ connectionString: azuriteConnectionString("http://127.0.0.1:9/devstoreaccount1") });
  verification = await registerVerification(worker.boss, { services: { database, kek: kekFrom(randomBytes(32)), blobs, alerts: noAlerts }, scratchRoot: scratch, requestPollMs: 60_000 }, () => {});
}, 120_000);
afterAll(async () => {
  verification?.stop();
  await worker?.stop();
  await database?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("verification queues", () => {
  it("a second scheduled scrub of the same customer is not queued while the first waits; other customers and 'now' requests are", async () => {
    const a = { mspId: crypto.randomUUID(), customerId: crypto.randomUUID(), full: false };
    const b = { ...a, customerId: crypto.randomUUID() };
    const later = { startAfter: 3600 };
    const first = await worker.boss.send(SCRUB_QUEUE, a, { singletonKey: `scrub:${a.customerId}`, ...later });
    const second = await worker.boss.send(SCRUB_QUEUE, a, { singletonKey: `scrub:${a.customerId}`, ...later });
    const other = await worker.boss.send(SCRUB_QUEUE, b, { singletonKey: `scrub:${b.customerId}`, ...later });
    expect(first).toBeTruthy();
    expect(second).toBeNull();
    expect(other).toBeTruthy();
    const now1 = await worker.boss.send(NOW(SCRUB_QUEUE), { ...a, full: true }, later);
    const now2 = await worker.boss.send(NOW(SCRUB_QUEUE), { ...a, full: true }, later);
    expect(now1 && now2 && now1 !== now2).toBeTruthy();
  });

  it("a database whose scheduled queues were created before the one-per-key policy gets it on the next start", async () => {
    const old = await createTestDatabase();
    const oldWorker = await startWorker({ database: old });
    let v: VerificationWorker | undefined;
    try {
      // What an earlier release left behind: the same queue, created with pg-boss's default policy.
      await oldWorker.boss.createQueue(SCRUB_QUEUE);
      expect((await oldWorker.boss.getQueue(SCRUB_QUEUE))?.policy).toBe("standard");
      const blobs = createBlobAccount({ connectionString: azuriteConnectionString("http://127.0.0.1:9/devstoreaccount1") });
      v = await registerVerification(oldWorker.boss, { services: { database: old, kek: kekFrom(randomBytes(32)), blobs, alerts: noAlerts }, scratchRoot: scratch, requestPollMs: 60_000 }, () => {});
      expect((await oldWorker.boss.getQueue(SCRUB_QUEUE))?.policy).toBe("stately");
      const a = { mspId: crypto.randomUUID(), customerId: crypto.randomUUID(), full: false };
      const opts = { singletonKey: `scrub:${a.customerId}`, startAfter: 3600 };
      expect(await oldWorker.boss.send(SCRUB_QUEUE, a, opts)).toBeTruthy();
      expect(await oldWorker.boss.send(SCRUB_QUEUE, a, opts)).toBeNull();
    } finally {
      v?.stop();
      await oldWorker.stop();
      await old.drop();
    }
  }, 120_000);
});
