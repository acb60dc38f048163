/**
 * A repository on any BlobStore:
 *
 *   config              sealed JSON: repository id, chunker, pack size, compression
 *   keys/<id>           JSON: the master key wrapped by a password (scrypt) or a KEK
 *   data/<2 hex>/<id>   packs (id = SHA-256 of the pack bytes)
 *   index/<id>          sealed, compressed index objects (which blob is where)
 *   snapshots/<id>      sealed recovery-point manifests
 *   trash/<pack id>     prune's mark: pack condemned at a time; deleted after the grace period
 *   locks/<id>          (reserved for exclusive operations such as prune)
 */
import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { BlobNotFoundError, type BlobStore } from "@tidemark/storage";
import { openObject, packKey as derivePackKey, sealObject } from "./crypto/aead";
import { deriveKeys, keyFileSchema, newMasterKey, unwrapKeyFile, wrapWithKek, wrapWithPassword, type RepoKeys, type ScryptParams, type Unlock } from "./crypto/keys";
import { DEFAULT_CHUNKER, FastCdc, gearTable, validateChunkerParams, type ChunkerParams } from "./chunker/fastcdc";
import { DEFAULT_BLOCK_SIZE } from "./chunker/fixed";
import { DEFAULT_ZSTD_LEVEL } from "./compress";
import { CorruptionError, RepositoryError, WrongPasswordError } from "./errors";
import { contentId, toHex } from "./id";
import { RepoIndex } from "./index/repo-index";
import type { IndexEntry } from "./index/index";
import { BLOB_TREE, packKeyName, type BlobType } from "./pack/format";
import { openBlob } from "./pack/reader";
import { SNAPSHOT_PREFIX, snapshotSchema, type Snapshot } from "./snapshot";
import { decodeTree, type Tree } from "./tree";
import { readBlobs } from "./restore/blob-batch";
import { BlobSaver } from "./blob-saver";
import { compressJson, expandJson } from "./json-object";
import { availableParallelism } from "node:os";
import { EncoderPool } from "./backup/encoder-pool";
import type { EncodeParams } from "./backup/encode-core";

export const MIN_PACK_SIZE = 64 * 1024;
/** 32 MiB of decoded trees: at ~350 bytes per file node, the trees of ~90k files. */
export const DEFAULT_TREE_CACHE_BYTES = 32 * 1024 * 1024;
/**
 * Decoded heap per byte of tree JSON: every name, id and mtime becomes its own
 * string and every node an object. Measured 1.44× (V8 heap, 220-node trees of
 * typical file/dir nodes); rounded up.
 */
const TREE_MEMORY_FACTOR = 1.5;
export const MAX_PACK_SIZE = 64 * 1024 * 1024;

export const configSchema = z.object({
  v: z.literal(1),
  id: z.string(),
  created: z.string(),
  chunker: z.object({ min: z.number().int(), avg: z.number().int(), max: z.number().int() }),
  packSize: z.number().int().min(MIN_PACK_SIZE).max(MAX_PACK_SIZE),
  zstdLevel: z.number().int().min(0).max(19),
  blockSize: z.number().int().min(4096),
});
export type RepoConfig = z.infer<typeof configSchema>;

export interface InitOptions {
  chunker?: ChunkerParams;
  packSize?: number;
  zstdLevel?: number;
  blockSize?: number;
  /** Tests lower the scrypt cost; production keeps the default. */
  scrypt?: ScryptParams;
  /** With a KEK secret: the id recorded beside the wrapped key. */
  kekId?: string;
}

/** An existing repository's settings as handed out by the service (`v` and `created` may be omitted). */
export type RepoConfigInput = Omit<RepoConfig, "v" | "created"> & { v?: 1; created?: string };

function newConfig(opts: InitOptions): RepoConfig {
  const chunker = opts.chunker ?? DEFAULT_CHUNKER;
  validateChunkerParams(chunker);
  return configSchema.parse({
    v: 1,
    id: randomBytes(16).toString("hex"),
    created: new Date().toISOString(),
    chunker,
    packSize: opts.packSize ?? 16 * 1024 * 1024,
    zstdLevel: opts.zstdLevel ?? DEFAULT_ZSTD_LEVEL,
    blockSize: opts.blockSize ?? DEFAULT_BLOCK_SIZE,
  });
}

function adoptConfig(input: RepoConfigInput): RepoConfig {
  const parsed = configSchema.safeParse({ ...input, v: 1, created: input.created ?? new Date().toISOString() });
  if (!parsed.success) throw new RepositoryError(`repository config is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  validateChunkerParams(parsed.data.chunker);
  return parsed.data;
}

const KEYS_PREFIX = "keys/";
export const TRASH_PREFIX = "trash/";
const CONFIG_KEY = "config";

export class Repository {
  readonly chunker: FastCdc;
  /**
   * Decoded trees, least recently used first. Promises, so concurrent readers
   * of one tree (prefetch + walk) share a single GET. Bounded by an estimate
   * of their memory, not by count: a long-running agent keeps it for good.
   */
  private treeCache = new Map<string, { tree: Promise<Tree>; bytes: number }>();
  private treeCacheBytes = 0;
  private treeCacheMax = DEFAULT_TREE_CACHE_BYTES;
  /** Budget of the tree cache (estimated bytes of decoded trees). Lower it to trade re-reads for memory. */
  get treeCacheLimit(): number {
    return this.treeCacheMax;
  }
  set treeCacheLimit(bytes: number) {
    if (!(bytes >= 0)) throw new RepositoryError(`tree cache limit must be a byte count ≥ 0, got ${bytes}`);
    this.treeCacheMax = bytes;
    this.evictTrees(undefined);
  }

  private constructor(
    readonly store: BlobStore,
    readonly keys: RepoKeys,
    readonly config: RepoConfig,
    readonly index: RepoIndex,
    /** Packs prune has marked for deletion (`trash/<pack>`): new points must not reference them. */
    readonly condemned: Set<string> = new Set(),
  ) {
    this.chunker = new FastCdc(gearTable(keys.gear), config.chunker);
  }

  static async init(store: BlobStore, secret: Unlock, opts: InitOptions = {}): Promise<Repository> {
    return Repository.initWithMasterKey(store, newMasterKey(), secret, opts);
  }

  /**
   * Creates a repository around a master key the caller already holds (the
   * service hands every machine of a customer the same key; the agent's spool
   * must use it too). `opts.config` adopts an existing repository's settings
   * and id exactly (a spool mirrors the customer's container); without it a
   * new config is made from the other options. The key file wraps `master`
   * with `secret`; the config is written last.
   */
  static async initWithMasterKey(store: BlobStore, master: Uint8Array, secret: Unlock, opts: InitOptions & { config?: RepoConfigInput } = {}): Promise<Repository> {
    if (master.length !== 32) throw new RepositoryError(`a master key is 32 bytes, got ${master.length}`);
    const config = opts.config ? adoptConfig(opts.config) : newConfig(opts);
    if (await store.head(CONFIG_KEY)) throw new RepositoryError(`a repository already exists at ${store.description}`);
    const keyFile = "password" in secret ? await wrapWithPassword(master, secret.password, opts.scrypt) : wrapWithKek(master, secret.kek, opts.kekId ?? "default");
    const keys = deriveKeys(master);
    const keyBytes = Buffer.from(JSON.stringify(keyFile));
    await store.put(KEYS_PREFIX + createHash("sha256").update(keyBytes).digest("hex"), keyBytes, { ifNotExists: true });
    // The config goes last: its presence is what marks a repository as initialised.
    await store.put(CONFIG_KEY, sealObject(keys.enc, "config", Buffer.from(JSON.stringify(config))), { ifNotExists: true });
    const condemned = new Set<string>();
    return new Repository(store, keys, config, new RepoIndex(store, keys, condemned), condemned);
  }

  static async open(store: BlobStore, secret: Unlock): Promise<Repository> {
    let configBytes: Buffer;
    try {
      configBytes = await store.get(CONFIG_KEY);
    } catch (e) {
      if (e instanceof BlobNotFoundError) throw new RepositoryError(`no repository at ${store.description} (run init first)`);
      throw e;
    }
    const keys = await unlock(store, secret);
    const config = configSchema.parse(JSON.parse(openObject(keys.enc, "config", configBytes, CONFIG_KEY).toString("utf8")));
    const condemned = new Set<string>();
    for await (const m of store.list(TRASH_PREFIX)) condemned.add(m.key.slice(TRASH_PREFIX.length));
    return new Repository(store, keys, config, await RepoIndex.load(store, keys, condemned), condemned);
  }

  /** Adds another way in (second password, service KEK) to the same master key. */
  static async addKey(store: BlobStore, existing: Unlock, added: Unlock, opts: { scrypt?: ScryptParams; kekId?: string } = {}): Promise<void> {
    const master = await unlockMaster(store, existing);
    const keyFile = "password" in added ? await wrapWithPassword(master, added.password, opts.scrypt) : wrapWithKek(master, added.kek, opts.kekId ?? "default");
    const keyBytes = Buffer.from(JSON.stringify(keyFile));
    await store.put(KEYS_PREFIX + createHash("sha256").update(keyBytes).digest("hex"), keyBytes, { ifNotExists: true });
  }

  private pools = new Map<number, EncoderPool>();
  /**
   * One pool per size per repository, reused by every backup in this process (workers are unref'd).
   * Default: one worker fewer than cores, because the main thread is busy too (sealing, packing,
   * uploads). Measured on the 2-core box, /usr/share (591 MiB, 48.8k files): 1 worker 14.5–15.6 s
   * and ~440 MiB RSS, 2 workers 18.7–21.7 s and ~500 MiB.
   */
  encoderPool(size = Math.max(1, availableParallelism() - 1)): EncoderPool {
    let p = this.pools.get(size);
    if (!p) {
      const params: EncodeParams = { idKey: this.keys.id, gear: gearTable(this.keys.gear), chunker: this.config.chunker, zstdLevel: this.config.zstdLevel };
      this.pools.set(size, (p = new EncoderPool(params, size)));
    }
    return p;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }

  newSaver(opts: { uploadConcurrency?: number } = {}): BlobSaver {
    // 3 uploads in flight hide a slow fsync or PUT behind packing; each costs one pack of memory.
    return new BlobSaver(this, opts.uploadConcurrency ?? 3);
  }

  id(data: Uint8Array): string {
    return toHex(contentId(this.keys.id, data));
  }

  /** Reads one blob through the index with a ranged GET; verifies tag and id. */
  async readBlob(id: string, expectType?: BlobType): Promise<Buffer> {
    const e = this.index.lookup(id);
    if (!e) throw new CorruptionError(`chunk ${id} is not in the index`, undefined, id);
    try {
      return await this.readCopy(id, e, expectType);
    } catch (err) {
      return this.readAlternate(id, expectType, err as Error);
    }
  }

  /**
   * After the chosen copy of `id` failed with `first`: the first other stored
   * copy that reads and verifies, or `first` again when none does (a chunk
   * stored twice — racing writers, a self-heal re-upload — is whole as long
   * as one copy is).
   */
  async readAlternate(id: string, expectType: BlobType | undefined, first: Error): Promise<Buffer> {
    if (!(first instanceof CorruptionError)) throw first;
    for (const alt of this.index.alternates?.(id) ?? []) {
      try {
        return await this.readCopy(id, alt, expectType);
      } catch {
        // Try the next copy; the first error is the one reported.
      }
    }
    throw first;
  }

  private async readCopy(id: string, e: IndexEntry, expectType?: BlobType): Promise<Buffer> {
    if (expectType !== undefined && e.type !== expectType) throw new CorruptionError(`chunk ${id} has the wrong blob type`, e.pack, id);
    const info = this.index.packInfo(e.pack)!;
    let sealed: Buffer;
    try {
      sealed = await this.store.get(packKeyName(e.pack), { offset: e.offset, length: e.length });
    } catch (err) {
      if (err instanceof BlobNotFoundError) throw new CorruptionError(`pack ${e.pack} is missing (needed for chunk ${id})`, e.pack, id);
      throw err;
    }
    if (sealed.length !== e.length) throw new CorruptionError(`pack ${e.pack}: chunk ${id} is truncated`, e.pack, id);
    return openBlob(this.keys, e.pack, this.packKey(info.id, info.salt), { type: e.type, id: Buffer.from(id, "hex"), offset: e.offset }, sealed);
  }

  private packKeys = new Map<string, Buffer>();
  packKey(packId: string, salt: Buffer): Buffer {
    let k = this.packKeys.get(packId);
    if (!k) {
      k = derivePackKey(this.keys.enc, salt);
      if (this.packKeys.size > 4096) this.packKeys.clear();
      this.packKeys.set(packId, k);
    }
    return k;
  }

  loadTree(id: string): Promise<Tree> {
    return this.cachedTree(id) ?? this.cacheTree(id, this.readBlob(id, BLOB_TREE));
  }

  /**
   * Loads many trees at once: those not cached are read grouped by pack and
   * coalesced into ranged GETs (see readBlobs), and cached as loadTree would.
   * Never throws: a tree that cannot be read or decoded maps to its error.
   */
  async loadTrees(ids: Iterable<string>): Promise<Map<string, Tree | Error>> {
    const pending = new Map<string, Promise<Tree>>();
    const settle = new Map<string, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
    for (const id of ids) {
      if (pending.has(id)) continue;
      const cached = this.cachedTree(id);
      if (cached) {
        pending.set(id, cached);
        continue;
      }
      const data = new Promise<Buffer>((resolve, reject) => settle.set(id, { resolve, reject }));
      pending.set(id, this.cacheTree(id, data));
    }
    if (settle.size) {
      let failed: Error | undefined;
      await readBlobs(this, [...settle.keys()], BLOB_TREE, (id, data) => {
        const s = settle.get(id)!;
        settle.delete(id);
        if (data instanceof Error) s.reject(data);
        else s.resolve(data);
      }).catch((e: unknown) => (failed = e instanceof Error ? e : new Error(String(e))));
      // Whatever readBlobs did not deliver (it failed part way) must not stay pending in the cache.
      for (const s of settle.values()) s.reject(failed ?? new Error("tree not delivered"));
    }
    const out = new Map<string, Tree | Error>();
    for (const [id, p] of pending) out.set(id, await p.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))));
    return out;
  }

  private cachedTree(id: string): Promise<Tree> | undefined {
    const cached = this.treeCache.get(id);
    if (!cached) return undefined;
    // Most recently used goes last: eviction takes from the front.
    this.treeCache.delete(id);
    this.treeCache.set(id, cached);
    return cached.tree;
  }

  private cacheTree(id: string, blob: Promise<Buffer>): Promise<Tree> {
    const entry = { tree: undefined as unknown as Promise<Tree>, bytes: 0 };
    entry.tree = blob.then((data) => {
      let tree: Tree;
      try {
        tree = decodeTree(data);
      } catch (e) {
        throw new CorruptionError(`tree ${id} does not decode: ${(e as Error).message}`, this.index.lookup(id)?.pack, id);
      }
      if (this.treeCache.get(id) === entry) {
        entry.bytes = data.length * TREE_MEMORY_FACTOR + 200;
        this.treeCacheBytes += entry.bytes;
        this.evictTrees(id);
      }
      return tree;
    });
    // Failures are not cached: a retry (or a later check) must see the error again.
    entry.tree.catch(() => {
      if (this.treeCache.get(id) === entry) this.dropTree(id);
    });
    this.treeCache.set(id, entry);
    return entry.tree;
  }

  /** What the tree cache holds now (entries, estimated bytes). */
  treeCacheUsage(): { entries: number; bytes: number } {
    return { entries: this.treeCache.size, bytes: this.treeCacheBytes };
  }

  private dropTree(id: string) {
    const e = this.treeCache.get(id);
    if (!e) return;
    this.treeCache.delete(id);
    this.treeCacheBytes -= e.bytes;
  }

  private evictTrees(keep: string | undefined) {
    for (const id of this.treeCache.keys()) {
      if (this.treeCacheBytes <= this.treeCacheMax) return;
      // In-flight loads cost nothing yet and are about to be used.
      if (id === keep || this.treeCache.get(id)!.bytes === 0) continue;
      this.dropTree(id);
    }
  }

  async saveSnapshot(s: Snapshot): Promise<string> {
    const plain = compressJson(snapshotSchema.parse(s));
    const id = this.id(plain);
    await this.store.put(SNAPSHOT_PREFIX + id, sealObject(this.keys.enc, "snapshot", plain), { ifNotExists: true });
    return id;
  }

  async snapshotIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const m of this.store.list(SNAPSHOT_PREFIX)) ids.push(m.key.slice(SNAPSHOT_PREFIX.length));
    return ids;
  }

  async loadSnapshot(id: string): Promise<Snapshot> {
    const name = SNAPSHOT_PREFIX + id;
    const data = await this.store.get(name);
    return snapshotSchema.parse(expandJson(openObject(this.keys.enc, "snapshot", data, name)));
  }

  /** Every point, oldest first. */
  async listSnapshots(): Promise<Array<{ id: string; snapshot: Snapshot }>> {
    const ids = await this.snapshotIds();
    const out = await Promise.all(ids.map(async (id) => ({ id, snapshot: await this.loadSnapshot(id) })));
    return out.sort((a, b) => a.snapshot.time.localeCompare(b.snapshot.time) || a.id.localeCompare(b.id));
  }

  /** "latest", a full id, or a unique prefix of at least 4 hex digits. */
  async resolveSnapshot(ref: string): Promise<{ id: string; snapshot: Snapshot }> {
    if (ref === "latest") {
      const all = await this.listSnapshots();
      const last = all.at(-1);
      if (!last) throw new RepositoryError("the repository has no recovery points yet");
      return last;
    }
    if (!/^[0-9a-f]{4,64}$/.test(ref)) throw new RepositoryError(`not a recovery point id: ${JSON.stringify(ref)}`);
    const matches = (await this.snapshotIds()).filter((id) => id.startsWith(ref));
    if (matches.length === 0) throw new RepositoryError(`no recovery point ${ref}`);
    if (matches.length > 1) throw new RepositoryError(`recovery point prefix ${ref} is ambiguous (${matches.length} matches)`);
    return { id: matches[0]!, snapshot: await this.loadSnapshot(matches[0]!) };
  }

  async deleteSnapshot(id: string): Promise<void> {
    await this.store.delete(SNAPSHOT_PREFIX + id);
  }
}


async function unlockMaster(store: BlobStore, secret: Unlock): Promise<Buffer> {
  const names: string[] = [];
  for await (const m of store.list(KEYS_PREFIX)) names.push(m.key);
  if (names.length === 0) throw new RepositoryError(`repository at ${store.description} has no keys`);
  for (const name of names.sort()) {
    const parsed = keyFileSchema.safeParse(JSON.parse((await store.get(name)).toString("utf8")));
    if (!parsed.success) continue;
    try {
      return await unwrapKeyFile(parsed.data, secret);
    } catch (e) {
      if (!(e instanceof WrongPasswordError)) throw e;
    }
  }
  throw new WrongPasswordError();
}

async function unlock(store: BlobStore, secret: Unlock): Promise<RepoKeys> {
  return deriveKeys(await unlockMaster(store, secret));
}
