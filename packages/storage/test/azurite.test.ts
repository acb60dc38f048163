import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AzureBlobStore, StorageError, withRetry } from "../src/index";
import { startAzurite } from "../src/testing/azurite";

describe("startAzurite", () => {
  it("keeps data across stop and start on the same port and folder; the store sees the outage as transient", async () => {
    const location = await mkdtemp(join(tmpdir(), "tidemark-azurite-test-"));
    try {
      const first = await startAzurite({ location });
      const store = new AzureBlobStore({ connectionString: first.connectionString, container: "persist" });
      await store.ensureContainer();
      await store.put("packs/a", Buffer.from("survives restarts"));
      await first.stop();

      const down = await store.get("packs/a").catch((e: unknown) => e);
      expect(down).toBeInstanceOf(StorageError);
      expect((down as StorageError).transient).toBe(true);

      const second = await startAzurite({ location, port: first.port });
      expect(second.connectionString).toBe(first.connectionString);
      expect((await store.get("packs/a")).toString()).toBe("survives restarts");
      await second.stop();
    } finally {
      await rm(location, { recursive: true, force: true });
    }
  }, 30_000); // starts and stops Azurite processes: seconds each on a loaded 2-core box

  it("lets withRetry ride out an Azurite outage: the write lands once the emulator is back", async () => {
    const location = await mkdtemp(join(tmpdir(), "tidemark-azurite-test-"));
    let current = await startAzurite({ location });
    try {
      const azure = new AzureBlobStore({ connectionString: current.connectionString, container: "outage" });
      await azure.ensureContainer();
      await current.stop();
      const waits: number[] = [];
      const store = withRetry(azure, {
        retries: 5,
        baseDelayMs: 10,
        maxDelayMs: 100,
        random: () => 0.5,
        // The "wait" is where the outage ends: the second retry finds the emulator back.
        sleep: async (ms) => {
          waits.push(ms);
          if (waits.length === 2) current = await startAzurite({ location, port: current.port });
        },
      });
      await store.put("packs/p", Buffer.from("written through an outage"), { ifNotExists: true });
      expect(waits).toEqual([5, 10]);
      expect((await azure.get("packs/p")).toString()).toBe("written through an outage");
    } finally {
      await current.stop();
      await rm(location, { recursive: true, force: true });
    }
  }, 30_000); // starts and stops Azurite processes: seconds each on a loaded 2-core box

  it("keeps in-memory instances apart and refuses a busy port clearly", async () => {
    const a = await startAzurite({ inMemory: true });
    const b = await startAzurite({ inMemory: true });
    try {
      const sa = new AzureBlobStore({ connectionString: a.connectionString, container: "same" });
      const sb = new AzureBlobStore({ connectionString: b.connectionString, container: "same" });
      await sa.ensureContainer();
      await sb.ensureContainer();
      await sa.put("k", Buffer.from("a"));
      expect(await sb.head("k")).toBeNull();
      await expect(startAzurite({ inMemory: true, port: a.port })).rejects.toThrow(`127.0.0.1:${a.port}: port in use`);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 30_000); // starts and stops Azurite processes: seconds each on a loaded 2-core box
});
