/**
 * Retries transient failures (5xx, 429, timeouts, connection resets) with
 * exponential backoff and full jitter (delay = random × min(max, base × 2^n)),
 * which spreads a fleet of agents hitting a throttled account instead of
 * having them retry in lockstep. Permanent errors pass straight through.
 *
 * Two cases need more than "call it again":
 * - A create-only put that failed transiently may still have landed (the
 *   request reached the service, the answer did not reach us). If a later
 *   attempt then hits BlobExistsError, we compare the stored object with ours
 *   and report success when it is our own write.
 * - A list that fails mid-way restarts and skips keys already yielded, so the
 *   caller sees each key once.
 */
import { createHash } from "node:crypto";
import type { BlobMeta, BlobStore, GetOptions, PutOptions } from "../blob-store";
import { BlobExistsError, StorageError, isTransientError, throwIfAborted } from "../errors";
import { type OpKind, realSleep } from "./ops";

export interface RetryInfo {
  op: OpKind;
  key: string;
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  error: unknown;
}

export interface RetryOptions {
  /** Retries after the first attempt (0 = no retry). */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Abandon an attempt after this long and count it as a transient failure. */
  attemptTimeoutMs?: number;
  /** Injected for tests: instant and deterministic. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Injected for tests: a value in [0, 1). */
  random?: () => number;
  onRetry?: (info: RetryInfo) => void;
}

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest();

export class RetryingBlobStore implements BlobStore {
  readonly description: string;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;

  constructor(
    readonly inner: BlobStore,
    private readonly opts: RetryOptions,
  ) {
    if (!Number.isInteger(opts.retries) || opts.retries < 0) throw new RangeError("retries must be an integer ≥ 0");
    if (!(opts.baseDelayMs >= 0) || !(opts.maxDelayMs >= opts.baseDelayMs)) {
      throw new RangeError("need 0 ≤ baseDelayMs ≤ maxDelayMs");
    }
    this.description = inner.description;
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
  }

  async put(key: string, data: Uint8Array, opts: PutOptions = {}): Promise<void> {
    let ambiguous = false;
    await this.run("put", key, opts.signal, async (signal) => {
      try {
        await this.inner.put(key, data, { ...opts, signal });
      } catch (err) {
        if (err instanceof BlobExistsError && opts.ifNotExists && ambiguous && (await this.isOurs(key, data))) return;
        if (isTransientError(err)) ambiguous = true;
        throw err;
      }
    });
  }

  get(key: string, opts: GetOptions = {}): Promise<Buffer> {
    return this.run("get", key, opts.signal, (signal) => this.inner.get(key, { ...opts, signal }));
  }

  head(key: string): Promise<BlobMeta | null> {
    return this.run("head", key, undefined, () => this.inner.head(key));
  }

  delete(key: string): Promise<void> {
    return this.run("delete", key, undefined, () => this.inner.delete(key));
  }

  async *list(prefix: string): AsyncIterable<BlobMeta> {
    const seen = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      try {
        const it = this.inner.list(prefix)[Symbol.asyncIterator]();
        try {
          while (true) {
            const r = await this.timed("list", prefix, undefined, () => it.next());
            if (r.done) return;
            if (seen.has(r.value.key)) continue;
            seen.add(r.value.key);
            yield r.value;
          }
        } finally {
          // Fire-and-forget: a hung backend must not block the caller's exit.
          void Promise.resolve(it.return?.()).catch(() => undefined);
        }
      } catch (err) {
        await this.backoff("list", prefix, attempt, err, undefined);
      }
    }
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  private async run<T>(op: OpKind, key: string, signal: AbortSignal | undefined, fn: (s?: AbortSignal) => Promise<T>) {
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      try {
        return await this.timed(op, key, signal, fn);
      } catch (err) {
        await this.backoff(op, key, attempt, err, signal);
      }
    }
  }

  /** Rethrows unless the error is transient and retries remain; otherwise waits. */
  private async backoff(op: OpKind, key: string, attempt: number, err: unknown, signal: AbortSignal | undefined) {
    if (signal?.aborted || !isTransientError(err) || attempt >= this.opts.retries) throw err;
    const cap = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** attempt);
    const delayMs = Math.floor(this.random() * cap);
    this.opts.onRetry?.({ op, key, attempt: attempt + 1, delayMs, error: err });
    await this.sleep(delayMs, signal);
  }

  /** One attempt, abandoned (and its request aborted) after attemptTimeoutMs. */
  private timed<T>(op: OpKind, key: string, outer: AbortSignal | undefined, fn: (s?: AbortSignal) => Promise<T>) {
    const ms = this.opts.attemptTimeoutMs;
    if (ms === undefined) return fn(outer);
    const ctl = new AbortController();
    const forward = () => ctl.abort(outer!.reason);
    outer?.addEventListener("abort", forward, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new StorageError(`${op} ${key} timed out after ${ms} ms`, {
          backend: this.description,
          key,
          transient: true,
          code: "TIMEOUT",
        });
        ctl.abort(err);
        reject(err);
      }, ms);
    });
    const attempt = fn(ctl.signal);
    // The abandoned attempt may still reject later; that must not crash the process.
    attempt.catch(() => undefined);
    return Promise.race([attempt, timeout]).finally(() => {
      clearTimeout(timer);
      outer?.removeEventListener("abort", forward);
    });
  }

  /** After an ambiguous create-only put: is the stored object the one we tried to write? */
  private async isOurs(key: string, data: Uint8Array): Promise<boolean> {
    try {
      const meta = await this.run("head", key, undefined, () => this.inner.head(key));
      if (!meta || meta.size !== data.length) return false;
      if (meta.contentMD5) return Buffer.from(meta.contentMD5).equals(md5(data));
      const stored = await this.run("get", key, undefined, (s) => this.inner.get(key, { signal: s }));
      return stored.equals(data);
    } catch {
      return false;
    }
  }
}

export function withRetry(store: BlobStore, opts: RetryOptions): RetryingBlobStore {
  return new RetryingBlobStore(store, opts);
}
