import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  BlobExistsError,
  BlobNotFoundError,
  MemoryBlobStore,
  StorageError,
  readOnly,
  seededRandom,
  withConcurrencyLimit,
  withFaults,
  withMetrics,
  withRetry,
  type BlobMeta,
  type BlobStore,
  type RetryOptions,
} from "../src/index";

const instant = async () => {};
const md5hex = (b: Uint8Array) => createHash("md5").update(b).digest("hex");

function retrying(inner: BlobStore, extra: Partial<RetryOptions> = {}) {
  const sleeps: number[] = [];
  const store = withRetry(inner, {
    retries: 3,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.999,
    ...extra,
  });
  return { store, sleeps };
}

describe("withRetry", () => {
  it("gives up after N retries and throws the last error", async () => {
    const errors = [1, 2, 3, 4, 5].map(
      (i) => new StorageError(`attempt ${i}: 503`, { backend: "test", transient: true, status: 503 }),
    );
    const faulty = withFaults(new MemoryBlobStore(), errors.map((fail) => ({ op: "put" as const, fail })));
    const { store, sleeps } = retrying(faulty);
    const err = await store.put("k", Buffer.from("v")).catch((e: unknown) => e);
    expect(err).toBe(errors[3]);
    expect(faulty.calls.put).toBe(4);
    expect(sleeps).toEqual([99, 199, 399]);
    expect(await faulty.inner.head("k")).toBeNull();
  });

  it("backs off exponentially with full jitter, capped at maxDelayMs", async () => {
    const faulty = withFaults(new MemoryBlobStore(), [{ op: "get", times: 6, fail: "transient" }]);
    await faulty.inner.put("k", Buffer.from("v"));
    const seq = [0.5, 0.25, 0.999, 0.999, 0.999, 0];
    const retries: number[] = [];
    const { store, sleeps } = retrying(faulty, {
      retries: 6,
      random: () => seq.shift()!,
      onRetry: (i) => retries.push(i.attempt),
    });
    expect((await store.get("k")).toString()).toBe("v");
    expect(sleeps).toEqual([50, 50, 399, 799, 999, 0]);
    expect(retries).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("does not retry permanent errors, missing keys or a caller's abort", async () => {
    const faulty = withFaults(new MemoryBlobStore(), [{ op: "put", fail: "permanent" }]);
    const { store, sleeps } = retrying(faulty);
    const err = await store.put("k", Buffer.from("v")).catch((e: unknown) => e);
    expect((err as StorageError).status).toBe(403);
    expect(faulty.calls.put).toBe(1);

    await expect(store.get("missing")).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(faulty.calls.get).toBe(1);

    const ctl = new AbortController();
    faulty.add({ op: "get", times: 5, fail: "transient" });
    const { store: s2 } = retrying(faulty, {
      sleep: async () => {
        ctl.abort(new Error("user cancelled"));
      },
    });
    await expect(s2.get("k", { signal: ctl.signal })).rejects.toThrow("user cancelled");
    expect(faulty.calls.get).toBe(2);
    expect(sleeps).toEqual([]);
  });

  it("abandons an attempt that hangs past attemptTimeoutMs, aborts it, and retries", async () => {
    const faulty = withFaults(new MemoryBlobStore(), [{ op: "get", hang: true }, { op: "head", hang: true }]);
    await faulty.inner.put("k", Buffer.from("v"));
    const { store, sleeps } = retrying(faulty, { attemptTimeoutMs: 25 });
    expect((await store.get("k")).toString()).toBe("v");
    expect((await store.head("k"))?.size).toBe(1);
    expect(sleeps).toHaveLength(2);
    expect(faulty.calls.get).toBe(2);
    faulty.releaseHangs();
  });

  it("reports a timeout as a transient TIMEOUT error once retries run out", async () => {
    const faulty = withFaults(new MemoryBlobStore(), [{ op: "delete", hang: true, times: Infinity }]);
    const { store } = retrying(faulty, { retries: 1, attemptTimeoutMs: 10 });
    const err = await store.delete("k").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe("TIMEOUT");
    expect((err as StorageError).transient).toBe(true);
    expect((err as Error).message).toBe("memory: delete k timed out after 10 ms");
    faulty.releaseHangs();
  });

  it("treats a create-only put whose reply was lost as done when the stored object is ours", async () => {
    const faulty = withFaults(new MemoryBlobStore(), [{ op: "put", fail: "transient", failWhen: "after" }]);
    const { store } = retrying(faulty);
    await store.put("packs/p", Buffer.from("mine"), { ifNotExists: true });
    expect(faulty.calls.put).toBe(2);
    expect((await store.get("packs/p")).toString()).toBe("mine");

    // Someone else's object under the name stays a conflict, even after an ambiguous failure.
    faulty.add({ op: "put", fail: "transient" });
    await expect(store.put("packs/p", Buffer.from("theirs"), { ifNotExists: true })).rejects.toBeInstanceOf(
      BlobExistsError,
    );
    // Same size, different bytes: compared by content, not by size.
    faulty.add({ op: "put", fail: "transient" });
    await expect(store.put("packs/p", Buffer.from("nope"), { ifNotExists: true })).rejects.toBeInstanceOf(
      BlobExistsError,
    );
    expect((await store.get("packs/p")).toString()).toBe("mine");
  });

  it("restarts a listing that fails midway without repeating keys", async () => {
    const inner = new MemoryBlobStore();
    for (let i = 0; i < 10; i++) await inner.put(`k/${i}`, Buffer.from("x"));
    let failures = 2;
    const flaky: BlobStore = {
      description: "flaky",
      put: (k, d, o) => inner.put(k, d, o),
      get: (k, o) => inner.get(k, o),
      head: (k) => inner.head(k),
      delete: (k) => inner.delete(k),
      async *list(prefix) {
        let n = 0;
        for await (const m of inner.list(prefix)) {
          if (n++ === 4 && failures-- > 0) throw new StorageError("list page 503", { backend: "flaky", transient: true });
          yield m;
        }
      },
    };
    const { store, sleeps } = retrying(flaky);
    const keys: string[] = [];
    for await (const m of store.list("k/")) keys.push(m.key);
    expect(keys.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k/${i}`).sort());
    expect(sleeps).toHaveLength(2);
  });

  it("survives a 503 storm with lost replies and delays without corrupting or losing anything", async () => {
    const memory = new MemoryBlobStore();
    const faulty = withFaults(
      memory,
      [
        { op: "*", times: Infinity, probability: 0.3, fail: "transient" },
        { op: "*", times: Infinity, probability: 0.15, fail: "transient", failWhen: "after" },
        { op: "*", times: Infinity, probability: 0.1, delayMs: 5 },
      ],
      { random: seededRandom(42), sleep: instant },
    );
    const store = withConcurrencyLimit(
      withRetry(faulty, { retries: 20, baseDelayMs: 1, maxDelayMs: 100, sleep: instant, random: seededRandom(7) }),
      8,
    );
    const rand = seededRandom(99);
    const objects = new Map<string, Buffer>();
    for (let i = 0; i < 150; i++) objects.set(`packs/${i.toString(16).padStart(4, "0")}`, randomBytes(Math.floor(rand() * 70_000)));
    await Promise.all([...objects].map(([k, v]) => store.put(k, v, { ifNotExists: true })));
    expect(faulty.injected.put).toBeGreaterThan(30);

    for (const [k, v] of objects) {
      expect(md5hex(memory.raw(k)!), k).toBe(md5hex(v));
      expect(md5hex(await store.get(k)), k).toBe(md5hex(v));
      const off = Math.floor(v.length / 3);
      expect((await store.get(k, { offset: off, length: 1000 })).equals(v.subarray(off, off + 1000))).toBe(true);
    }
    const listed: string[] = [];
    for await (const m of store.list("packs/")) listed.push(m.key);
    expect(listed.sort()).toEqual([...objects.keys()].sort());
    expect(memory.size).toBe(objects.size);
    expect(faulty.injected.get + faulty.injected.list).toBeGreaterThan(30);
  });

  it("validates its options", () => {
    const m = new MemoryBlobStore();
    expect(() => withRetry(m, { retries: -1, baseDelayMs: 1, maxDelayMs: 2 })).toThrow(/retries/);
    expect(() => withRetry(m, { retries: 1, baseDelayMs: 10, maxDelayMs: 2 })).toThrow(/maxDelayMs/);
  });
});

describe("withFaults", () => {
  it("flips exactly one bit or truncates on get, leaving the stored object intact", async () => {
    const memory = new MemoryBlobStore();
    const data = randomBytes(1000);
    await memory.put("p", data);
    const faulty = withFaults(memory, [
      { op: "get", corrupt: "bitflip", at: 8 * 500 + 3 },
      { op: "get", corrupt: "truncate", at: 600 },
    ]);
    const flipped = await faulty.get("p");
    const diff = [...flipped].flatMap((b, i) => (b !== data[i] ? [i] : []));
    expect(diff).toEqual([500]);
    expect(flipped[500]! ^ data[500]!).toBe(8);
    const truncated = await faulty.get("p");
    expect(truncated.equals(data.subarray(0, 600))).toBe(true);
    expect((await faulty.get("p")).equals(data)).toBe(true);
    expect(memory.raw("p")!.equals(data)).toBe(true);
  });

  it("skips, limits and scopes rules by key prefix", async () => {
    const faulty = withFaults(new MemoryBlobStore(), [{ op: "put", keyPrefix: "packs/", skip: 1, times: 2, fail: "transient" }]);
    await faulty.put("index/a", Buffer.from("x"));
    await faulty.put("packs/1", Buffer.from("x"));
    await expect(faulty.put("packs/2", Buffer.from("x"))).rejects.toMatchObject({ status: 503, transient: true });
    await expect(faulty.put("packs/3", Buffer.from("x"))).rejects.toMatchObject({ status: 503 });
    await faulty.put("packs/4", Buffer.from("x"));
    expect(faulty.injected.put).toBe(2);
    expect(faulty.calls.put).toBe(5);
  });

  it("delays through the injected sleep", async () => {
    const sleeps: number[] = [];
    const faulty = withFaults(new MemoryBlobStore(), [{ op: "head", delayMs: 250 }], {
      sleep: async (ms) => void sleeps.push(ms),
    });
    expect(await faulty.head("x")).toBeNull();
    expect(sleeps).toEqual([250]);
  });
});

describe("withConcurrencyLimit", () => {
  function gated() {
    const memory = new MemoryBlobStore();
    let inFlight = 0;
    let max = 0;
    const store: BlobStore = {
      description: "gated",
      async put(k, d, o) {
        inFlight++;
        max = Math.max(max, inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        return memory.put(k, d, o);
      },
      get: (k, o) => memory.get(k, o),
      head: (k) => memory.head(k),
      delete: (k) => memory.delete(k),
      list: (p) => memory.list(p),
    };
    return { store, max: () => max };
  }

  it("never runs more than n operations at once", async () => {
    const g = gated();
    const limited = withConcurrencyLimit(g.store, 3);
    await Promise.all(Array.from({ length: 30 }, (_, i) => limited.put(`k${i}`, Buffer.from("x"))));
    expect(g.max()).toBe(3);
    expect(limited.semaphore.inFlight).toBe(0);
  });

  it("does not deadlock when a caller reads each listed key with a limit of 1", async () => {
    const memory = new MemoryBlobStore();
    for (let i = 0; i < 5; i++) await memory.put(`k/${i}`, Buffer.from(String(i)));
    const limited = withConcurrencyLimit(memory, 1);
    const seen: string[] = [];
    for await (const m of limited.list("k/")) seen.push((await limited.get(m.key)).toString());
    expect(seen.sort()).toEqual(["0", "1", "2", "3", "4"]);
  });

  it("lets a queued caller give up through its AbortSignal", async () => {
    const faulty = withFaults(new MemoryBlobStore(), [{ op: "get", hang: true }]);
    await faulty.inner.put("k", Buffer.from("v"));
    const limited = withConcurrencyLimit(faulty, 1);
    const first = limited.get("k").catch((e: unknown) => e);
    const ctl = new AbortController();
    const queued = limited.get("k", { signal: ctl.signal });
    expect(limited.semaphore.queued).toBe(1);
    ctl.abort(new Error("gave up"));
    await expect(queued).rejects.toThrow("gave up");
    faulty.releaseHangs();
    await first;
    expect((await limited.get("k")).toString()).toBe("v");
    expect(() => withConcurrencyLimit(faulty, 0)).toThrow(/≥ 1/);
  });
});

describe("withMetrics", () => {
  it("counts operations, bytes, errors and latency per kind", async () => {
    // Each reading of the clock advances it by `step`: an op's latency is the step in force when it ends.
    let t = 0;
    let step = 5;
    const faulty = withFaults(new MemoryBlobStore(), [{ op: "get", keyPrefix: "bad", fail: "transient" }]);
    const store = withMetrics(faulty, { now: () => (t += step) });
    await store.put("a", Buffer.alloc(100));
    step = 7;
    await store.put("b", Buffer.alloc(50));
    step = 1;
    const got = await store.get("a", { offset: 10, length: 30 });
    expect(got.length).toBe(30);
    await store.get("bad").catch(() => undefined);
    await store.get("missing").catch(() => undefined);
    await store.head("a");
    await store.delete("b");
    const listed: BlobMeta[] = [];
    for await (const m of store.list("")) listed.push(m);
    const m = store.metrics();
    expect(m.ops).toEqual({ put: 2, get: 3, head: 1, list: 1, delete: 1 });
    expect(m.errors).toEqual({ put: 0, get: 2, head: 0, list: 0, delete: 0 });
    expect(m.bytesOut).toBe(150);
    expect(m.bytesIn).toBe(30);
    expect(m.listed).toBe(1);
    expect(m.latencyMsMax.put).toBe(7);
    expect(m.latencyMsSum.put).toBe(12);
    expect(m.latencyMsSum.get).toBe(3);
    store.reset();
    expect(store.metrics().ops.put).toBe(0);
    expect(m.ops.put).toBe(2); // snapshots do not move
  });
});

describe("readOnly", () => {
  it("reads but refuses writes and deletes with a clear permanent error", async () => {
    const memory = new MemoryBlobStore();
    await memory.put("k", Buffer.from("v"));
    const ro = readOnly(memory);
    expect((await ro.get("k")).toString()).toBe("v");
    expect((await ro.head("k"))?.size).toBe(1);
    const put = await ro.put("k", Buffer.from("w")).catch((e: unknown) => e);
    expect(put).toMatchObject({ code: "READ_ONLY", transient: false });
    expect((put as Error).message).toBe("memory: store is read-only: refused to write k");
    await expect(ro.delete("k")).rejects.toMatchObject({ code: "READ_ONLY" });
    expect((await memory.get("k")).toString()).toBe("v");
    const keys: string[] = [];
    for await (const m of ro.list("")) keys.push(m.key);
    expect(keys).toEqual(["k"]);
  });
});
