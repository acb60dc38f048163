/**
 * Fault injection for tests: a store that misbehaves on cue. Rules are
 * checked in order on every call; each rule applies to the calls it matches
 * until its `times` are used up.
 *
 *   const faulty = withFaults(memory, [
 *     { op: "put", times: 3, fail: "transient" },      // three 503s
 *     { op: "get", keyPrefix: "packs/", corrupt: "bitflip" },
 *   ]);
 */
import type { BlobMeta, BlobStore, GetOptions, PutOptions } from "../blob-store";
import { StorageError } from "../errors";
import { type OpKind, perOp, realSleep } from "./ops";

export interface FaultRule {
  /** Which operation; "*" for all. */
  op: OpKind | "*";
  /** Only keys (or list prefixes) starting with this. */
  keyPrefix?: string;
  /** How many matching calls this rule affects (default 1; Infinity for always). */
  times?: number;
  /** Let this many matching calls through untouched first. */
  skip?: number;
  /** Affect a matching call only with this probability (uses the plan's random). */
  probability?: number;
  /** Fail the call: a transient 503 ServerBusy, a permanent 403, or this exact error. */
  fail?: "transient" | "permanent" | Error;
  /**
   * "before" (default): fail without touching the store. "after": perform the
   * operation, then report failure — the reply was lost, the write was not.
   */
  failWhen?: "before" | "after";
  /** Wait this long (through the plan's sleep) before the call. */
  delayMs?: number;
  /** Damage what get returns: flip one bit, or drop the tail. */
  corrupt?: "bitflip" | "truncate";
  /** Bit to flip (default: the middle byte's lowest bit) or bytes to keep when truncating (default: half). */
  at?: number;
  /** Never answer, until the call's AbortSignal fires or releaseHangs() is called. */
  hang?: boolean;
}

export interface FaultOptions {
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

interface LiveRule extends FaultRule {
  seen: number;
  used: number;
}

/** Deterministic PRNG (mulberry32) for reproducible fault storms. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultyBlobStore implements BlobStore {
  readonly description: string;
  /** Calls seen per kind (including faulted ones). */
  readonly calls = perOp(() => 0);
  /** Faults injected per kind. */
  readonly injected = perOp(() => 0);
  private rules: LiveRule[] = [];
  private hung = new Set<(err: Error) => void>();
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;

  constructor(
    readonly inner: BlobStore,
    plan: FaultRule[] = [],
    opts: FaultOptions = {},
  ) {
    this.description = inner.description;
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    for (const r of plan) this.add(r);
  }

  add(rule: FaultRule): this {
    this.rules.push({ ...rule, seen: 0, used: 0 });
    return this;
  }

  clear(): void {
    this.rules = [];
  }

  /** Rejects every hung call (test clean-up). */
  releaseHangs(): void {
    for (const reject of this.hung) reject(new Error("fault injection: hang released"));
    this.hung.clear();
  }

  async put(key: string, data: Uint8Array, opts?: PutOptions): Promise<void> {
    await this.call("put", key, opts?.signal, () => this.inner.put(key, data, opts));
  }

  async get(key: string, opts?: GetOptions): Promise<Buffer> {
    let corrupt: LiveRule | undefined;
    const buf = await this.call("get", key, opts?.signal, () => this.inner.get(key, opts), (r) => (corrupt = r));
    if (!corrupt || buf.length === 0) return buf;
    if (corrupt.corrupt === "truncate") return buf.subarray(0, corrupt.at ?? Math.floor(buf.length / 2));
    const out = Buffer.from(buf);
    const bit = (corrupt.at ?? Math.floor(out.length / 2) * 8) % (out.length * 8);
    out[bit >> 3]! ^= 1 << (bit & 7);
    return out;
  }

  head(key: string): Promise<BlobMeta | null> {
    return this.call("head", key, undefined, () => this.inner.head(key));
  }

  delete(key: string): Promise<void> {
    return this.call("delete", key, undefined, () => this.inner.delete(key));
  }

  async *list(prefix: string): AsyncIterable<BlobMeta> {
    // Faults apply when the listing starts; that is where real backends fail most.
    const items: BlobMeta[] = await this.call("list", prefix, undefined, async () => {
      const out: BlobMeta[] = [];
      for await (const m of this.inner.list(prefix)) out.push(m);
      return out;
    });
    yield* items;
  }

  async close(): Promise<void> {
    this.releaseHangs();
    await this.inner.close?.();
  }

  /**
   * The rules that fire on this call. Delays stack, but at most one rule that
   * ends the call (fail or hang) and one corruption fire, so a plan of
   * single-shot failures plays out one call at a time, in order.
   */
  private match(op: OpKind, key: string): LiveRule[] {
    const hits: LiveRule[] = [];
    let ended = false;
    let corrupted = false;
    for (const r of this.rules) {
      if (r.op !== "*" && r.op !== op) continue;
      if (r.keyPrefix !== undefined && !key.startsWith(r.keyPrefix)) continue;
      if (r.corrupt && op !== "get") continue;
      if (r.used >= (r.times ?? 1)) continue;
      const ends = Boolean(r.fail || r.hang);
      if ((ends && ended) || (r.corrupt && corrupted)) continue;
      r.seen++;
      if (r.seen <= (r.skip ?? 0)) continue;
      if (r.probability !== undefined && this.random() >= r.probability) continue;
      r.used++;
      ended ||= ends;
      corrupted ||= Boolean(r.corrupt);
      hits.push(r);
    }
    return hits;
  }

  private async call<T>(
    op: OpKind,
    key: string,
    signal: AbortSignal | undefined,
    fn: () => Promise<T>,
    onCorrupt?: (r: LiveRule) => void,
  ): Promise<T> {
    this.calls[op]++;
    const hits = this.match(op, key);
    if (hits.length) this.injected[op]++;
    let failAfter: LiveRule | undefined;
    for (const r of hits) {
      if (r.delayMs) await this.sleep(r.delayMs, signal);
      if (r.hang) await this.hang(signal);
      if (r.fail && r.failWhen === "after") failAfter = r;
      else if (r.fail) throw this.error(r, op, key);
      if (r.corrupt) onCorrupt?.(r);
    }
    const result = await fn();
    if (failAfter) throw this.error(failAfter, op, key);
    return result;
  }

  private hang(signal: AbortSignal | undefined): Promise<never> {
    return new Promise<never>((_, reject) => {
      const done = (err: Error) => {
        this.hung.delete(done);
        reject(err);
      };
      this.hung.add(done);
      signal?.addEventListener("abort", () => done(signal.reason instanceof Error ? signal.reason : new Error("aborted")), {
        once: true,
      });
    });
  }

  private error(r: LiveRule, op: OpKind, key: string): Error {
    if (r.fail instanceof Error) return r.fail;
    const transient = r.fail === "transient";
    return new StorageError(
      `injected fault: ${op} ${key} failed with HTTP ${transient ? "503 ServerBusy" : "403 AuthorizationFailure"}`,
      {
        backend: this.description,
        key,
        transient,
        status: transient ? 503 : 403,
        code: transient ? "ServerBusy" : "AuthorizationFailure",
      },
    );
  }
}

export function withFaults(store: BlobStore, plan: FaultRule[] = [], opts?: FaultOptions): FaultyBlobStore {
  return new FaultyBlobStore(store, plan, opts);
}
