/**
 * The contract every BlobStore (and every stack of wrappers) must pass, in the
 * spirit of kopia's blobtesting and restic's backend test suite: one set of
 * expectations, so the engine can trust any store it is handed.
 *
 *   import { blobStoreContract } from "@tidemark/storage/contract";
 *   blobStoreContract("local", async () => ({ store, cleanup }));
 *
 * Semantics it pins down (beyond the interface's doc comments): ranges past
 * the end are clamped, an offset beyond the end is a permanent INVALID_RANGE
 * StorageError, a contentMD5 mismatch is a BlobIntegrityError and stores
 * nothing, invalid keys are InvalidKeyError for every backend.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BlobMeta, BlobStore } from "../blob-store";
import { BlobExistsError, BlobIntegrityError, BlobNotFoundError, InvalidKeyError, StorageError } from "../errors";

export interface ContractStore {
  store: BlobStore;
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** Objects in the "many keys" case; above 5000 so Azure must page. */
  manyKeys?: number;
  /** Timeout for the heavy cases (20 MiB object, many keys), in ms. */
  slowTimeoutMs?: number;
  /** Parallel puts when filling the many-keys case (8 suits disks; HTTP stores like more). */
  putConcurrency?: number;
}

const MiB = 1024 * 1024;
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest();

async function collect(it: AsyncIterable<BlobMeta>): Promise<BlobMeta[]> {
  const out: BlobMeta[] = [];
  for await (const m of it) out.push(m);
  return out;
}

async function keysOf(store: BlobStore, prefix: string): Promise<string[]> {
  return (await collect(store.list(prefix))).map((m) => m.key).sort();
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the operation to fail, but it succeeded");
}

/** Runs at most `n` tasks at a time (puts of thousands of keys). */
async function parallel<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export function blobStoreContract(
  name: string,
  makeStore: () => Promise<ContractStore>,
  opts: ContractOptions = {},
): void {
  const manyKeys = opts.manyKeys ?? 5001;
  const slow = opts.slowTimeoutMs ?? 60_000;
  const putConcurrency = opts.putConcurrency ?? 8;

  describe(`BlobStore contract: ${name}`, () => {
    let ctx: ContractStore;
    let store: BlobStore;

    beforeEach(async () => {
      ctx = await makeStore();
      store = ctx.store;
    });
    afterEach(async () => {
      await ctx.cleanup();
    });

    it("round-trips bytes and is not affected by the caller reusing its buffers", async () => {
      const data = Buffer.from("hello, tidemark");
      await store.put("obj", data);
      data.fill(0);
      const got = await store.get("obj");
      expect(Buffer.isBuffer(got)).toBe(true);
      expect(got.toString()).toBe("hello, tidemark");
      got.fill(0);
      expect((await store.get("obj")).toString()).toBe("hello, tidemark");
    });

    it("stores an empty object", async () => {
      await store.put("empty", new Uint8Array(0));
      expect((await store.get("empty")).length).toBe(0);
      expect((await store.get("empty", { offset: 0 })).length).toBe(0);
      expect((await store.head("empty"))?.size).toBe(0);
      expect(await keysOf(store, "empty")).toEqual(["empty"]);
    });

    it(
      "round-trips a 20 MiB object and reads ranges across it",
      async () => {
        const data = randomBytes(20 * MiB);
        await store.put("big/pack", data);
        const got = await store.get("big/pack");
        expect(got.length).toBe(data.length);
        expect(md5(got).equals(md5(data))).toBe(true);
        expect((await store.head("big/pack"))?.size).toBe(20 * MiB);
        const off = 4 * MiB - 7;
        const part = await store.get("big/pack", { offset: off, length: 3 * MiB });
        expect(part.equals(data.subarray(off, off + 3 * MiB))).toBe(true);
      },
      slow,
    );

    it("replaces an object on a plain put", async () => {
      await store.put("k", Buffer.from("first"));
      await store.put("k", Buffer.from("second, longer"));
      expect((await store.get("k")).toString()).toBe("second, longer");
      expect((await store.head("k"))?.size).toBe(14);
    });

    it("reads byte ranges, clamping a range that runs past the end", async () => {
      await store.put("r", Buffer.from("0123456789"));
      expect((await store.get("r", { offset: 3 })).toString()).toBe("3456789");
      expect((await store.get("r", { length: 4 })).toString()).toBe("0123");
      expect((await store.get("r", { offset: 2, length: 5 })).toString()).toBe("23456");
      expect((await store.get("r", { offset: 9, length: 1 })).toString()).toBe("9");
      expect((await store.get("r", { offset: 7, length: 100 })).toString()).toBe("789");
      expect((await store.get("r", { offset: 10 })).length).toBe(0);
      expect((await store.get("r", { offset: 4, length: 0 })).length).toBe(0);
    });

    it("refuses an offset beyond the end or a negative range as a permanent error", async () => {
      await store.put("r", Buffer.from("0123456789"));
      for (const range of [{ offset: 11 }, { offset: 100, length: 1 }, { offset: -1 }, { length: -5 }]) {
        const err = await errorOf(store.get("r", range));
        expect(err, JSON.stringify(range)).toBeInstanceOf(StorageError);
        expect((err as StorageError).transient).toBe(false);
        expect(err).not.toBeInstanceOf(BlobNotFoundError);
      }
    });

    it("describes an object with head, and returns null for a missing one", async () => {
      const data = Buffer.from("metadata");
      await store.put("dir/meta", data);
      const meta = await store.head("dir/meta");
      expect(meta?.key).toBe("dir/meta");
      expect(meta?.size).toBe(data.length);
      expect(meta?.lastModified).toBeInstanceOf(Date);
      expect(Math.abs(meta!.lastModified!.getTime() - Date.now())).toBeLessThan(10 * 60_000);
      if (meta?.contentMD5) expect(Buffer.from(meta.contentMD5).equals(md5(data))).toBe(true);
      expect(await store.head("dir/missing")).toBeNull();
      expect(await store.head("dir")).toBeNull();
    });

    it("lists by prefix, including prefixes that stop mid-segment", async () => {
      const keys = ["a/b/c", "a/b/d", "a/bc", "a/b/e/f", "ab", "b/a", "a/x"];
      for (const k of keys) await store.put(k, Buffer.from(k));
      expect(await keysOf(store, "")).toEqual([...keys].sort());
      expect(await keysOf(store, "a/b/")).toEqual(["a/b/c", "a/b/d", "a/b/e/f"]);
      expect(await keysOf(store, "a/b")).toEqual(["a/b/c", "a/b/d", "a/b/e/f", "a/bc"]);
      expect(await keysOf(store, "a")).toEqual(["a/b/c", "a/b/d", "a/b/e/f", "a/bc", "a/x", "ab"]);
      expect(await keysOf(store, "a/b/e/")).toEqual(["a/b/e/f"]);
      expect(await keysOf(store, "zzz")).toEqual([]);
      expect(await keysOf(store, "a/q/")).toEqual([]);
      const metas = await collect(store.list("a/b/"));
      for (const m of metas) expect(m.size).toBe(Buffer.byteLength(m.key));
    });

    it("keeps keys with spaces, unicode and URL-special characters exact", async () => {
      const keys = ["odd/with space", "odd/ünïcødé-ключ", "odd/a+b=c&d", "odd/100%", "odd/q?x#frag", "odd/~tilde"];
      for (const k of keys) await store.put(k, Buffer.from(k));
      expect(await keysOf(store, "odd/")).toEqual([...keys].sort());
      for (const k of keys) expect((await store.get(k)).toString()).toBe(k);
      for (const k of keys) await store.delete(k);
      expect(await keysOf(store, "odd/")).toEqual([]);
    });

    it(
      `lists ${manyKeys} keys under one prefix (paging)`,
      async () => {
        const keys = Array.from({ length: manyKeys }, (_, i) => `many/${String(i).padStart(5, "0")}`);
        await parallel(keys, putConcurrency, (k) => store.put(k, Buffer.from("x")));
        await store.put("other/1", Buffer.from("y"));
        await store.put("man", Buffer.from("y"));
        const listed = await keysOf(store, "many/");
        expect(listed.length).toBe(manyKeys);
        expect(new Set(listed).size).toBe(manyKeys);
        expect(listed).toEqual(keys);
      },
      slow,
    );

    it("creates only when absent with ifNotExists, keeping the first object", async () => {
      await store.put("once", Buffer.from("first"), { ifNotExists: true });
      const err = await errorOf(store.put("once", Buffer.from("second"), { ifNotExists: true }));
      expect(err).toBeInstanceOf(BlobExistsError);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).transient).toBe(false);
      expect((err as Error).message).toContain("once");
      expect((await store.get("once")).toString()).toBe("first");
      await store.delete("once");
      await store.put("once", Buffer.from("again"), { ifNotExists: true });
      expect((await store.get("once")).toString()).toBe("again");
    });

    it("lets exactly one of several concurrent create-only writers win", async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => store.put("race", Buffer.from(`w${i}`), { ifNotExists: true })),
      );
      const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(BlobExistsError);
      expect((await store.get("race")).toString()).toBe(`w${winners[0]}`);
    });

    it("deletes idempotently", async () => {
      await store.put("gone/x", Buffer.from("x"));
      await store.put("gone/y", Buffer.from("y"));
      await store.delete("gone/x");
      await store.delete("gone/x");
      await store.delete("never/existed");
      expect(await store.head("gone/x")).toBeNull();
      expect(await keysOf(store, "gone/")).toEqual(["gone/y"]);
      await expect(store.get("gone/x")).rejects.toBeInstanceOf(BlobNotFoundError);
    });

    it("throws BlobNotFoundError for a missing key, naming the key", async () => {
      for (const get of [() => store.get("no/such/key"), () => store.get("no/such/key", { offset: 1, length: 2 })]) {
        const err = await errorOf(get());
        expect(err).toBeInstanceOf(BlobNotFoundError);
        expect((err as StorageError).transient).toBe(false);
        expect((err as Error).message).toContain("no/such/key");
      }
    });

    it("accepts a matching contentMD5 and rejects a mismatch without storing anything", async () => {
      const data = Buffer.from("checked bytes");
      await store.put("md5/ok", data, { contentMD5: md5(data) });
      expect((await store.get("md5/ok")).toString()).toBe("checked bytes");

      const wrong = md5(Buffer.from("other bytes"));
      const err = await errorOf(store.put("md5/bad", data, { contentMD5: wrong }));
      expect(err).toBeInstanceOf(BlobIntegrityError);
      expect((err as StorageError).transient).toBe(false);
      expect(await store.head("md5/bad")).toBeNull();

      const err2 = await errorOf(store.put("md5/ok", Buffer.from("replacement"), { contentMD5: wrong }));
      expect(err2).toBeInstanceOf(BlobIntegrityError);
      expect((await store.get("md5/ok")).toString()).toBe("checked bytes");
    });

    it("refuses keys that could escape or be ambiguous", async () => {
      for (const key of ["../x", "a/../../x", "/abs", "a\\b", "a\0b", "", "a//b", "a/"]) {
        const err = await errorOf(store.put(key, Buffer.from("x")));
        expect(err, JSON.stringify(key)).toBeInstanceOf(InvalidKeyError);
      }
      await expect(store.get("../x")).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(collect(store.list("../"))).rejects.toBeInstanceOf(InvalidKeyError);
      expect(await keysOf(store, "")).toEqual([]);
    });

    it("handles deep nested prefixes and siblings independently", async () => {
      await store.put("p/1/2/3/4/leaf", Buffer.from("deep"));
      await store.put("p/1/2/sib", Buffer.from("sib"));
      await store.put("p/1/2/3/4/leaf2", Buffer.from("deep2"));
      expect(await keysOf(store, "p/1/2/3/")).toEqual(["p/1/2/3/4/leaf", "p/1/2/3/4/leaf2"]);
      await store.delete("p/1/2/3/4/leaf");
      await store.delete("p/1/2/3/4/leaf2");
      expect(await keysOf(store, "p/")).toEqual(["p/1/2/sib"]);
      expect((await store.get("p/1/2/sib")).toString()).toBe("sib");
      await store.put("p/1/2/3/4/leaf", Buffer.from("back"));
      expect((await store.get("p/1/2/3/4/leaf")).toString()).toBe("back");
    });

    it("never puts a secret in its description", () => {
      expect(store.description).not.toMatch(/sig=|AccountKey=|SharedAccessSignature/i);
      expect(store.description.length).toBeGreaterThan(0);
    });
  });
}
