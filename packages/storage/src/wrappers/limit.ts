/**
 * Caps the operations in flight against a store (Azure throttles per account;
 * a restore must not open a thousand sockets). A list holds a slot only while
 * fetching its next item, so "for each listed key, get it" cannot deadlock.
 */
import type { BlobMeta, BlobStore, GetOptions, PutOptions } from "../blob-store";
import { throwIfAborted } from "../errors";

export class Semaphore {
  private active = 0;
  private readonly waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("concurrency limit must be an integer ≥ 1");
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiters.length;
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject,
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    // Hand the slot straight to the next waiter: `active` stays the same.
    if (next) next.resolve();
    else this.active--;
  }

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

export class LimitedBlobStore implements BlobStore {
  readonly description: string;
  readonly semaphore: Semaphore;

  constructor(
    readonly inner: BlobStore,
    limit: number,
  ) {
    this.semaphore = new Semaphore(limit);
    this.description = inner.description;
  }

  put(key: string, data: Uint8Array, opts?: PutOptions): Promise<void> {
    return this.semaphore.run(() => this.inner.put(key, data, opts), opts?.signal);
  }

  get(key: string, opts?: GetOptions): Promise<Buffer> {
    return this.semaphore.run(() => this.inner.get(key, opts), opts?.signal);
  }

  head(key: string): Promise<BlobMeta | null> {
    return this.semaphore.run(() => this.inner.head(key));
  }

  delete(key: string): Promise<void> {
    return this.semaphore.run(() => this.inner.delete(key));
  }

  async *list(prefix: string): AsyncIterable<BlobMeta> {
    const it = this.inner.list(prefix)[Symbol.asyncIterator]();
    try {
      while (true) {
        const r = await this.semaphore.run(() => it.next());
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await it.return?.();
    }
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}

export function withConcurrencyLimit(store: BlobStore, limit: number): LimitedBlobStore {
  return new LimitedBlobStore(store, limit);
}
