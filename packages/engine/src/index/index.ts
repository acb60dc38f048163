/**
 * The narrow index interface: chunk id → where its sealed bytes live. The
 * repository-backed implementation is in ./repo-index.ts; the service will
 * plug in a PostgreSQL-backed one behind the same interface.
 */
import type { BlobType, PackBlob } from "../pack/format";

export interface IndexEntry {
  pack: string;
  type: BlobType;
  offset: number;
  length: number;
  rawLength: number;
}

export interface PackInfo {
  id: string;
  /** Per-pack key salt: lets a ranged GET decrypt one blob without the header. */
  salt: Buffer;
  size: number;
}

export interface IndexedPack extends PackInfo {
  blobs: PackBlob[];
}

export interface Index {
  lookup(id: string): IndexEntry | undefined;
  /**
   * Optional: other stored copies of `id` besides lookup()'s, best first.
   * A chunk is stored twice after two writers raced or after a self-heal
   * re-uploaded a copy found corrupt; readers fall back to these when the
   * chosen copy fails verification.
   */
  alternates?(id: string): IndexEntry[];
  has(id: string): boolean;
  /** Indexed and not in a pack that prune has condemned: a new point may reference it. */
  usable(id: string): boolean;
  /** Optional: make `usable` false for these ids until a fresh copy is added (see RepoIndex.distrust). */
  distrust?(ids: Iterable<string>): void;
  packInfo(packId: string): PackInfo | undefined;
  /** Packs that are already durable in storage, as one batch. */
  addPacks(packs: IndexedPack[]): void;
  /** Makes every pack added since the last flush findable by other readers. */
  flush(): Promise<void>;
  packs(): IterableIterator<PackInfo>;
  entries(): IterableIterator<[string, IndexEntry]>;
}
