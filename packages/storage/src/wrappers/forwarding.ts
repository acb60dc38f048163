/**
 * A store that passes every operation to `inner`: the base for wrappers that change one or two
 * operations (a read-only view refuses writes, the agent's spool journals puts) and forward the rest
 * as they are, so a method added to BlobStore is forwarded everywhere from one place.
 */
import type { BlobMeta, BlobStore, GetOptions, PutOptions } from "../blob-store";

export class ForwardingBlobStore implements BlobStore {
  constructor(readonly inner: BlobStore) {}

  get description(): string {
    return this.inner.description;
  }

  put(key: string, data: Uint8Array, opts?: PutOptions): Promise<void> {
    return this.inner.put(key, data, opts);
  }

  get(key: string, opts?: GetOptions): Promise<Buffer> {
    return this.inner.get(key, opts);
  }

  head(key: string): Promise<BlobMeta | null> {
    return this.inner.head(key);
  }

  list(prefix: string): AsyncIterable<BlobMeta> {
    return this.inner.list(prefix);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
