import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile, mkdir, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BlobExistsError, InvalidKeyError, LocalBlobStore, StorageError, TEMP_PREFIX } from "../src/index";

let root: string;
let store: LocalBlobStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "tidemark-local-"));
  store = new LocalBlobStore({ root });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("LocalBlobStore", () => {
  it.each(["../escape", "a/../../escape", "/etc/passwd", "a\\b", "a\0b", "", "a//b", "a/", "./a", `x/${TEMP_PREFIX}1`])(
    "rejects key %j without touching the disk",
    async (key) => {
      await expect(store.put(key, Buffer.from("x"))).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.get(key)).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidKeyError);
      expect(await readdir(root)).toEqual([]);
    },
  );

  it("stores keys as plain files under the root and leaves no temp files", async () => {
    await store.put("packs/ab/abc", Buffer.from("data"));
    expect(await readdir(join(root, "packs/ab"))).toEqual(["abc"]);
  });

  it("lets exactly one of many concurrent create-only writers win", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store.put("manifest", Buffer.from(`writer ${i}`), { ifNotExists: true })),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    for (const r of lost) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(BlobExistsError);
    expect((await store.get("manifest")).toString()).toMatch(/^writer \d+$/);
    expect((await readdir(root)).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
  });

  it("hides temp files of a writer that died and sweeps only old ones", async () => {
    await store.put("packs/p1", Buffer.from("ok"));
    const old = join(root, "packs", `${TEMP_PREFIX}dead`);
    const fresh = join(root, "packs", `${TEMP_PREFIX}inflight`);
    await writeFile(old, "partial");
    await writeFile(fresh, "partial");
    const past = new Date(Date.now() - 2 * 3600_000);
    await utimes(old, past, past);
    const keys: string[] = [];
    for await (const m of store.list("")) keys.push(m.key);
    expect(keys).toEqual(["packs/p1"]);
    expect(await store.sweepTempFiles(3600_000)).toBe(1);
    expect((await readdir(join(root, "packs"))).sort()).toEqual([`${TEMP_PREFIX}inflight`, "p1"]);
  });

  it("reports a key that collides with a directory clearly", async () => {
    await store.put("a/b", Buffer.from("x"));
    const err = await store.put("a", Buffer.from("y")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toContain("conflicts with an existing directory");
    expect(await store.head("a")).toBeNull();
    await store.delete("a"); // a directory is not an object: deleting it is a no-op
    expect((await store.get("a/b")).toString()).toBe("x");
  });

  it("surfaces a full disk as a clear, permanent error and keeps the old object", async (ctx) => {
    const mnt = join(root, "small");
    await mkdir(mnt);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt], { stdio: "ignore" });
    } catch {
      ctx.skip("needs root to mount a small tmpfs");
    }
    try {
      const small = new LocalBlobStore({ root: mnt });
      await small.put("k", Buffer.from("old"));
      const err = await small.put("k", Buffer.alloc(1024 * 1024, 1)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).transient).toBe(false);
      expect((err as StorageError).code).toBe("ENOSPC");
      expect((err as Error).message).toBe(`local:${mnt}: disk full writing ${join(mnt, "k")}`);
      expect((await small.get("k")).toString()).toBe("old");
      expect(await readdir(mnt)).toEqual(["k"]);
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});
