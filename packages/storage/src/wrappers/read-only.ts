/** A view that can read but never change a repository (restore, check, browsing a customer's data). */
import type { BlobStore, PutOptions } from "../blob-store";
import { StorageError } from "../errors";
import { ForwardingBlobStore } from "./forwarding";

export class ReadOnlyBlobStore extends ForwardingBlobStore {
  override async put(key: string, _data: Uint8Array, _opts?: PutOptions): Promise<void> {
    throw this.refuse("write", key);
  }

  override async delete(key: string): Promise<void> {
    throw this.refuse("delete", key);
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
