import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AzureBlobStore, StorageError } from "../src/index";
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
  });

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
  });
});
