import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { MemoryBlobStore } from "@tidemark/storage";
import { Repository, RepositoryError, WrongPasswordError } from "../src/index";
import { TEST_INIT } from "./helpers";

describe("Repository.initWithMasterKey", () => {
  it("two repositories made from one master key and config name chunks alike and open with their own secrets", async () => {
    const master = randomBytes(32);
    const kek = randomBytes(32);
    const container = new MemoryBlobStore();
    const a = await Repository.initWithMasterKey(container, master, { kek }, TEST_INIT);
    // The spool adopts the container's config (id included) and wraps the same key with its own KEK.
    const spoolKek = randomBytes(32);
    const spool = new MemoryBlobStore();
    const b = await Repository.initWithMasterKey(spool, master, { kek: spoolKek }, { config: { ...a.config }, kekId: "agent-spool" });
    expect(b.config).toEqual(a.config);
    const data = randomBytes(5000);
    expect(b.id(data)).toBe(a.id(data));

    const reopened = await Repository.open(spool, { kek: spoolKek });
    expect(reopened.config).toEqual(a.config);
    expect(reopened.keys.enc.equals(a.keys.enc)).toBe(true);
    await expect(Repository.open(spool, { kek })).rejects.toBeInstanceOf(WrongPasswordError);
  });

  it("accepts a config without v/created (as the service hands it out) and refuses bad input without writing", async () => {
    const master = randomBytes(32);
    const store = new MemoryBlobStore();
    const cfg = { id: "abc123", chunker: TEST_INIT.chunker!, packSize: 256 * 1024, zstdLevel: 2, blockSize: 64 * 1024 };
    await expect(Repository.initWithMasterKey(store, master.subarray(0, 16), { kek: master }, { config: cfg })).rejects.toThrow(/32 bytes/);
    await expect(Repository.initWithMasterKey(store, master, { kek: master }, { config: { ...cfg, packSize: 1 } })).rejects.toThrow(/packSize/);
    await expect(Repository.initWithMasterKey(store, master, { kek: master }, { config: { ...cfg, chunker: { min: 1, avg: 3, max: 2 } } })).rejects.toThrow(/chunker/);
    const keys: string[] = [];
    for await (const m of store.list("")) keys.push(m.key);
    expect(keys).toEqual([]);

    const r = await Repository.initWithMasterKey(store, master, { password: "pw" }, { config: cfg, scrypt: TEST_INIT.scrypt! });
    expect(r.config.id).toBe("abc123");
    expect(r.config.v).toBe(1);
    await expect(Repository.initWithMasterKey(store, master, { password: "pw" }, { config: cfg })).rejects.toBeInstanceOf(RepositoryError);
    expect((await Repository.open(store, { password: "pw" })).config.id).toBe("abc123");
  });
});
