/**
 * Counts what a store does: operations and errors per kind, bytes moved, and
 * latency (sum and max per kind; mean = sum / ops). Cheap enough to leave on
 * in production; the worker exports a snapshot with its other metrics.
 */
import type { BlobMeta, BlobStore, GetOptions, PutOptions } from "../blob-store";
import { type OpKind, perOp } from "./ops";

export interface StoreMetrics {
  ops: Record<OpKind, number>;
  errors: Record<OpKind, number>;
  /** Bytes read from the store (get). */
  bytesIn: number;
  /** Bytes written to the store (put, counted when the put succeeds). */
  bytesOut: number;
  /** Objects yielded by list. */
  listed: number;
  latencyMsSum: Record<OpKind, number>;
  latencyMsMax: Record<OpKind, number>;
}

function emptyMetrics(): StoreMetrics {
  return {
    ops: perOp(() => 0),
    errors: perOp(() => 0),
    bytesIn: 0,
    bytesOut: 0,
    listed: 0,
    latencyMsSum: perOp(() => 0),
    latencyMsMax: perOp(() => 0),
  };
}

export class MetricsBlobStore implements BlobStore {
  readonly description: string;
  private m = emptyMetrics();

  constructor(
    readonly inner: BlobStore,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.description = inner.description;
  }

  /** A snapshot: later operations do not change it. */
  metrics(): StoreMetrics {
    return structuredClone(this.m);
  }

  reset(): void {
    this.m = emptyMetrics();
  }

  async put(key: string, data: Uint8Array, opts?: PutOptions): Promise<void> {
    await this.measure("put", () => this.inner.put(key, data, opts));
    this.m.bytesOut += data.length;
  }

  async get(key: string, opts?: GetOptions): Promise<Buffer> {
    const buf = await this.measure("get", () => this.inner.get(key, opts));
    this.m.bytesIn += buf.length;
    return buf;
  }

  head(key: string): Promise<BlobMeta | null> {
    return this.measure("head", () => this.inner.head(key));
  }

  delete(key: string): Promise<void> {
    return this.measure("delete", () => this.inner.delete(key));
  }

  /** One list call is one op; its latency covers the whole iteration the caller drove. */
  async *list(prefix: string): AsyncIterable<BlobMeta> {
    const start = this.now();
    this.m.ops.list++;
    try {
      for await (const meta of this.inner.list(prefix)) {
        this.m.listed++;
        yield meta;
      }
    } catch (err) {
      this.m.errors.list++;
      throw err;
    } finally {
      this.record("list", start);
    }
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  private async measure<T>(op: OpKind, fn: () => Promise<T>): Promise<T> {
    const start = this.now();
    this.m.ops[op]++;
    try {
      return await fn();
    } catch (err) {
      this.m.errors[op]++;
      throw err;
    } finally {
      this.record(op, start);
    }
  }

  private record(op: OpKind, start: number): void {
    const ms = this.now() - start;
    this.m.latencyMsSum[op] += ms;
    if (ms > this.m.latencyMsMax[op]) this.m.latencyMsMax[op] = ms;
  }
}

export function withMetrics(store: BlobStore, opts: { now?: () => number } = {}): MetricsBlobStore {
  return new MetricsBlobStore(store, opts.now);
}
