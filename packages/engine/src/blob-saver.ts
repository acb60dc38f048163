/**
 * Turns blobs into uploaded packs: dedup against the index and this session,
 * fill one pack per blob type (trees apart from data, so metadata reads touch
 * few packs), upload finished packs with bounded concurrency (backpressure
 * bounds memory to ~(2 + uploads) packs), and only then index them.
 */
import { BlobExistsError } from "@tidemark/storage";
import type { Compressed } from "./compress";
import type { IndexedPack } from "./index/index";
import { BLOB_DATA, BLOB_TREE, packKeyName, type BlobType } from "./pack/format";
import { PackWriter, type FinishedPack } from "./pack/writer";
import type { Repository } from "./repository";

/** Two open writers (data, tree) take from here; more spares would only hold memory. */
const SPARE_PACK_BUFFERS = 2;

export interface SaverStats {
  newChunks: number;
  newBytes: number;
  storedBytes: number;
  packs: number;
}

export class BlobSaver {
  private readonly writers: Record<BlobType, PackWriter | undefined> = { [BLOB_DATA]: undefined, [BLOB_TREE]: undefined };
  private readonly inflight = new Set<string>();
  private readonly uploads = new Set<Promise<void>>();
  /** Buffers of stored packs, for the next writers: written pages stay mapped (no page faults per pack). */
  private readonly spare: Buffer[] = [];
  private failure: unknown;
  readonly stats: SaverStats = { newChunks: 0, newBytes: 0, storedBytes: 0, packs: 0 };

  constructor(
    private readonly repo: Repository,
    private readonly uploadConcurrency: number,
  ) {}

  /** True when the id is already stored or queued: the caller can skip compressing it. */
  known(id: string): boolean {
    return this.repo.index.usable(id) || this.inflight.has(id);
  }

  /** Saves a blob unless already known. Returns whether it was new. */
  async save(type: BlobType, id: string, data: Buffer): Promise<boolean> {
    return this.saveBlob(type, id, data.length, (w, idBuf) => w.add(type, idBuf, data, this.repo.config.zstdLevel));
  }

  /** Same, for a blob already compressed by an encoder worker. */
  async saveCompressed(type: BlobType, id: string, rawLength: number, compressed: Compressed): Promise<boolean> {
    return this.saveBlob(type, id, rawLength, (w, idBuf) => w.addCompressed(type, idBuf, rawLength, compressed));
  }

  private async saveBlob(type: BlobType, id: string, rawLength: number, add: (w: PackWriter, id: Buffer) => { length: number }): Promise<boolean> {
    if (this.failure) throw this.failure;
    if (this.known(id)) return false;
    this.inflight.add(id);
    // Room for a full pack plus one largest blob: the pack buffer never has to grow (untouched capacity costs no RSS).
    const w = (this.writers[type] ??= new PackWriter(this.repo.keys.enc, this.repo.config.packSize + this.repo.config.chunker.max + 64 * 1024, this.spare.pop()));
    const b = add(w, Buffer.from(id, "hex"));
    this.stats.newChunks++;
    this.stats.newBytes += rawLength;
    this.stats.storedBytes += b.length;
    if (w.size >= this.repo.config.packSize) await this.seal(type);
    return true;
  }

  private async seal(type: BlobType): Promise<void> {
    const w = this.writers[type];
    if (!w || w.count === 0) return;
    this.writers[type] = undefined;
    const pack = w.finish();
    while (this.uploads.size >= this.uploadConcurrency) await Promise.race(this.uploads);
    if (this.failure) throw this.failure;
    const job = this.upload(pack).then(
      () => {
        this.uploads.delete(job);
      },
      (e) => {
        this.uploads.delete(job);
        this.failure ??= e;
      },
    );
    this.uploads.add(job);
  }

  private async upload(pack: FinishedPack): Promise<void> {
    try {
      await this.repo.store.put(packKeyName(pack.id), pack.bytes, { ifNotExists: true });
    } catch (e) {
      // Same name means same bytes (the name is their SHA-256): already durable.
      if (!(e instanceof BlobExistsError)) throw e;
    }
    const indexed: IndexedPack = { id: pack.id, salt: pack.salt, size: pack.bytes.length, blobs: pack.blobs };
    this.repo.index.addPacks([indexed]);
    for (const b of pack.blobs) this.inflight.delete(b.id.toString("hex"));
    this.stats.packs++;
    // Stores never keep the caller's buffer once put() settles (memory.ts copies; see BlobStore.put).
    if (this.spare.length < SPARE_PACK_BUFFERS) this.spare.push(pack.backing);
  }

  /** Seals open packs, waits for every upload, then persists the index: after this, everything saved is findable. */
  async flush(): Promise<void> {
    await this.seal(BLOB_DATA);
    await this.seal(BLOB_TREE);
    await Promise.all(this.uploads);
    if (this.failure) throw this.failure;
    await this.repo.index.flush();
  }
}
