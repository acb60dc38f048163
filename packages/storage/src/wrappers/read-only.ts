/** A view that can read but never change a repository (restore, check, browsing a customer's data). */
import type { BlobMeta, BlobStore, GetOptions, PutOptions } from "../blob-store";
import { StorageError } from "../errors";

export class ReadOnlyBlobStore implements BlobStore {
  readonly description: string;

  constructor(readonly inner: BlobStore) {
    this.description = inner.description;
  }

  async put(key: string, _data: Uint8Array, _opts?: PutOptions): Promise<void> {
    throw this.refuse("write", key);
  }

  async delete(key: string): Promise<void> {
    throw this.refuse("delete", key);
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

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  private refuse(action: string, key: string): StorageError {
    return new StorageError(`store is read-only: refused to ${action} ${key}`, {
      backend: this.description,
      key,
      code: "READ_ONLY",
    });
  }
}

export function readOnly(store: BlobStore): ReadOnlyBlobStore {
  return new ReadOnlyBlobStore(store);
}
