/**
 * Server-side reads (downloads, verification): one chunk through the
 * PostgreSQL index with a ranged GET, checked exactly like the engine checks
 * it (GCM tag, then the keyed id recomputed from the plaintext).
 */
import { BlobNotFoundError, type BlobStore } from "@tidemark/storage";
import { deriveKeys, type Index, openBlob, packKey, packKeyName, type RepoKeys } from "./engine";

export class ChunkReadError extends Error {
  constructor(message: string, readonly chunkId: string, readonly packId?: string) {
    super(message);
    this.name = "ChunkReadError";
  }
}

export function repositoryKeys(dataKey: Buffer): RepoKeys {
  return deriveKeys(dataKey);
}

export async function readChunk(store: BlobStore, keys: RepoKeys, index: Index, id: string): Promise<Buffer> {
  const e = index.lookup(id);
  if (!e) throw new ChunkReadError(`chunk ${id} is not in the index (load it first)`, id);
  const info = index.packInfo(e.pack);
  if (!info) throw new ChunkReadError(`pack ${e.pack} of chunk ${id} is not in the index`, id, e.pack);
  let sealed: Buffer;
  try {
    sealed = await store.get(packKeyName(e.pack), { offset: e.offset, length: e.length });
  } catch (err) {
    if (err instanceof BlobNotFoundError) throw new ChunkReadError(`pack ${e.pack} is missing from storage (needed for chunk ${id})`, id, e.pack);
    throw err;
  }
  if (sealed.length !== e.length) throw new ChunkReadError(`pack ${e.pack}: chunk ${id} is truncated`, id, e.pack);
  return openBlob(keys, e.pack, packKey(keys.enc, info.salt), { type: e.type, id: Buffer.from(id, "hex"), offset: e.offset }, sealed);
}
