/**
 * Drains the upload queue in order. For a pack: ask the server which of its
 * chunks it lacks; none → nothing to send; some → send a pack of just those
 * (re-sealed locally); all → send the spooled pack as is. Then HEAD-or-put in
 * Azure, write its index object, report it. For a point: put its sealed
 * manifest, then commit it — only reached once every pack before it is done,
 * so a point is never committed before its packs are durable and reported.
 */
import { randomUUID } from "node:crypto";
import { AzureBlobStore, BlobExistsError, BlobNotFoundError, StorageError, withRetry, type BlobStore } from "@tidemark/storage";
import { MAX_MISSING_QUERY, MissingChunksError, packColumns, type AgentClient, type PointManifest } from "@tidemark/agent-protocol";
import { BLOB_TREE, openBlob, packKeyName, PackWriter, parseTrailer, SNAPSHOT_PREFIX, writeIndexObject, type IndexedPack, type PackBlob, type Repository, type Snapshot } from "./engine";
import type { UploadQueue } from "./queue";
import { readSpooled } from "./spool";

const REFRESH_BEFORE_MS = 5 * 60_000;
/** Packs sent at once: hides PUT and report latency (as the engine's saver does); each costs one pack of memory. */
const PACKS_IN_FLIGHT = 3;
/** How long one drain keeps taking newly queued items before it returns (the caller then re-reads the spool size). */
const REFILL_MS = 15_000;

/** The customer's container through a short-lived SAS, renewed before it expires or when Azure says 403. */
export class UploadTarget {
  private current: { store: BlobStore; renewAt: number } | undefined;
  constructor(
    private readonly api: AgentClient,
    private readonly now: () => number = Date.now,
  ) {}

  private fetching: Promise<BlobStore> | undefined;

  /** Concurrent callers share one session request. */
  store(): Promise<BlobStore> {
    if (this.current && this.now() < this.current.renewAt) return Promise.resolve(this.current.store);
    this.fetching ??= this.fetchStore().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async fetchStore(): Promise<BlobStore> {
    const s = await this.api.uploadSession();
    const azure = new AzureBlobStore({ sasUrl: s.sasUrl });
    // Short retries here ride out blips; the uploader's own backoff handles outages.
    const store = withRetry(azure, { retries: 2, baseDelayMs: 200, maxDelayMs: 2000, attemptTimeoutMs: 120_000 });
    const now = this.now();
    const life = Math.max(0, Math.min(Date.parse(s.expiresAt), now + 3600_000) - now);
    // Renew 5 min before expiry, or at half-life for short sessions (never on every call).
    this.current = { store, renewAt: now + Math.max(life / 2, life - REFRESH_BEFORE_MS) };
    return store;
  }

  /** An expired or revoked SAS is a permanent 403: the next call fetches a new one. */
  invalidate(): void {
    this.current = undefined;
  }
}

export interface UploaderHooks {
  onCommitted?(pointId: string, snapshot: Snapshot, clientPointId: string): void;
  /** The server refused a point for chunks the local cache believed stored. */
  onMissingChunks?(missing: string[]): Promise<void>;
  onUploaded?(bytes: number): void;
  /** One line per pack with where its time went (operators read it in the service log). */
  log?(line: string): void;
  onDropped?(why: string): void;
}

export class Uploader {
  /** Chunk ids of packs drained since the last committed point: sent with it so the server can verify them. */
  private pointChunks = new Set<string>();
  /** Pack buffers of finished uploads, reused by the next reads (at most one per pack in flight). */
  private spare: Buffer[] = [];
  readonly stats = { packsUploaded: 0, packsSkipped: 0, bytesUploaded: 0, pointsCommitted: 0 };

  constructor(
    private readonly repo: Repository,
    private readonly spoolStore: BlobStore,
    private readonly queue: UploadQueue,
    private readonly api: AgentClient,
    private readonly target: UploadTarget,
    private readonly hooks: UploaderHooks = {},
  ) {}

  /** Bytes of spooled packs still to send (the spool bound counts these). */
  async pending(): Promise<{ items: number; bytes: number }> {
    const items = await this.queue.list();
    return { items: items.length, bytes: items.reduce((a, i) => a + (i.item.kind === "pack" ? i.item.size : 0), 0) };
  }

  /**
   * Works through the queue; throws on the first failure (the caller backs off and calls again).
   * Packs go up to PACKS_IN_FLIGHT at a time (their order does not matter); a point waits for
   * every pack before it. When a pack succeeds, items queued since the drain began (a first point
   * spools for minutes) take its slot at once instead of waiting for the slowest pack of the
   * batch, for up to REFILL_MS: then the drain returns so the caller re-reads the spool size (the
   * spool bound). Nothing new is started after a failure (an outage ends the drain as fast as before).
   */
  async drain(signal?: AbortSignal): Promise<number> {
    try {
      return await this.drainQueue(signal);
    } finally {
      // An idle (or offline, backing off) agent keeps no pack buffers: the idle RSS target.
      this.spare = [];
    }
  }

  private async drainQueue(signal?: AbortSignal): Promise<number> {
    let done = 0;
    const inflight = new Set<Promise<void>>();
    const started = new Set<string>();
    const until = Date.now() + REFILL_MS;
    let failure: unknown;
    let succeeded = false;
    const settle = async () => {
      await Promise.all(inflight);
      if (failure !== undefined) throw failure;
    };
    const stop = () => signal?.aborted || failure !== undefined;
    let items = await this.queue.list();
    while (items.length > 0 && !stop()) {
      for (const { name, item } of items) {
        if (stop()) break;
        started.add(name);
        if (item.kind === "pack") {
          while (inflight.size >= PACKS_IN_FLIGHT) await Promise.race(inflight);
          if (stop()) break;
          const job: Promise<void> = this.pack(item.packId)
            .then(async () => {
              await this.queue.remove(name);
              done++;
              succeeded = true;
            })
            .catch((e) => {
              if (e instanceof StorageError && e.status === 403) this.target.invalidate();
              failure ??= e;
            })
            .finally(() => inflight.delete(job));
          inflight.add(job);
          continue;
        }
        await settle();
        try {
          await this.point(item.clientPointId, item.snapshotId);
        } catch (e) {
          if (e instanceof StorageError && e.status === 403) this.target.invalidate();
          if (e instanceof MissingChunksError) {
            // This point can never commit as captured: drop it, forget the cache, let capture take a fresh one.
            await this.queue.remove(name);
            this.pointChunks.clear();
            await this.hooks.onMissingChunks?.(e.missing);
          }
          throw e;
        }
        await this.queue.remove(name);
        done++;
      }
      items = [];
      // Refill: wait for a slot to free, then take what was queued meanwhile.
      while (!stop() && Date.now() < until && inflight.size > 0 && items.length === 0) {
        succeeded = false;
        await Promise.race(inflight);
        if (!succeeded || stop()) break;
        items = (await this.queue.list()).filter((i) => !started.has(i.name));
      }
    }
    await settle();
    return done;
  }

  /** Self-heal: chunk ids to send again whatever chunks/missing says (their stored copies are bad). */
  private forced = new Map<string, number>();

  forceUpload(ids: string[]): void {
    const now = Date.now();
    // An id no pack of this machine ever carries (another machine holds that data) must not stay forever.
    for (const [id, at] of this.forced) if (now - at > 3600_000) this.forced.delete(id);
    for (const id of ids) this.forced.set(id, now);
  }

  private async missing(ids: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const id of ids) if (this.forced.has(id)) out.add(id);
    for (let i = 0; i < ids.length; i += MAX_MISSING_QUERY) for (const id of await this.api.missingChunks(ids.slice(i, i + MAX_MISSING_QUERY))) out.add(id);
    return out;
  }

  private async pack(packId: string): Promise<void> {
    const key = packKeyName(packId);
    let read: { bytes: Buffer; backing: Buffer };
    try {
      read = await readSpooled(this.spoolStore, key, this.spare.pop());
    } catch (e) {
      // Uploaded and trimmed just before a crash removed the queue item.
      if (e instanceof BlobNotFoundError) return;
      throw e;
    }
    try {
      await this.send(packId, key, read.bytes);
    } finally {
      // Nothing keeps the pack's bytes once send() settles: put() has returned (an abandoned retry
      // attempt carries the MD5 of the bytes it started with, so Azure refuses it if they change).
      if (this.spare.length < PACKS_IN_FLIGHT) this.spare.push(read.backing);
    }
  }

  private async send(packId: string, key: string, bytes: Buffer): Promise<void> {
    const t0 = Date.now();
    const parsed = parseTrailer(this.repo.keys, packId, bytes);
    const ids = [...new Set(parsed.blobs.map((b) => b.id.toString("hex")))];
    const missing = await this.missing(ids);
    const t1 = Date.now();
    let t2 = t1;
    let t3 = t1;
    for (const id of ids) this.pointChunks.add(id);
    if (missing.size === 0) {
      this.stats.packsSkipped++;
    } else {
      const out = missing.size === ids.length ? { id: packId, bytes, salt: parsed.salt, blobs: parsed.blobs } : this.repack(packId, bytes, parsed.key, parsed.blobs, missing);
      const store = await this.target.store();
      const name = packKeyName(out.id);
      const there = await store.head(name);
      if (!there || there.size !== out.bytes.length) {
        try {
          await store.put(name, out.bytes, { ifNotExists: true });
        } catch (e) {
          // Same name means same bytes (SHA-256): someone (an earlier run) already made it durable.
          if (!(e instanceof BlobExistsError)) throw e;
        }
        this.stats.bytesUploaded += out.bytes.length;
        this.hooks.onUploaded?.(out.bytes.length);
      }
      t2 = Date.now();
      const indexed: IndexedPack = { id: out.id, salt: out.salt, size: out.bytes.length, blobs: out.blobs };
      await writeIndexObject(store, this.repo.keys, [indexed]);
      t3 = Date.now();
      await this.api.reportPack({
        packId: out.id,
        size: out.bytes.length,
        salt: out.salt.toString("base64"),
        // Columns, not one object per entry: a 10k-entry report costs both ends a third of the CPU.
        columns: packColumns(out.blobs),
      });
      this.stats.packsUploaded++;
      for (const id of missing) this.forced.delete(id);
    }
    this.hooks.log?.(`pack ${packId.slice(0, 12)}: ${missing.size}/${ids.length} chunk(s) missing (${t1 - t0} ms), put ${t2 - t1} ms, index ${t3 - t2} ms, report ${Date.now() - t3} ms`);
    // Tree packs stay: the next point's parent reuse reads trees locally (the SAS may not read).
    if (!parsed.blobs.some((b) => b.type === BLOB_TREE)) await this.spoolStore.delete(key);
  }

  /** A pack of only the blobs the server lacks: re-sealed under a fresh pack key (blob ids bind the content). */
  private repack(packId: string, bytes: Buffer, key: Buffer, blobs: PackBlob[], missing: Set<string>) {
    const w = new PackWriter(this.repo.keys.enc);
    const added = new Set<string>();
    for (const b of blobs) {
      const id = b.id.toString("hex");
      if (!missing.has(id) || added.has(id)) continue;
      added.add(id);
      const plain = openBlob(this.repo.keys, packId, key, b, bytes.subarray(b.offset, b.offset + b.length));
      w.add(b.type, b.id, plain, this.repo.config.zstdLevel);
    }
    const f = w.finish();
    return { id: f.id, bytes: f.bytes, salt: f.salt, blobs: f.blobs };
  }

  private async point(clientPointId: string, snapshotId: string): Promise<void> {
    const name = SNAPSHOT_PREFIX + snapshotId;
    let sealed: Buffer;
    try {
      sealed = await this.spoolStore.get(name);
    } catch (e) {
      // Cannot be committed any more; a stuck queue would stop every later point, so drop it loudly.
      if (e instanceof BlobNotFoundError) {
        this.hooks.onDropped?.(`point ${clientPointId}: its manifest is gone from the spool; dropped (the next point covers its changes)`);
        return;
      }
      throw e;
    }
    const t0 = Date.now();
    const snap = await this.repo.loadSnapshot(snapshotId);
    const store = await this.target.store();
    if (!(await store.head(name))) {
      try {
        await store.put(name, sealed, { ifNotExists: true });
      } catch (e) {
        if (!(e instanceof BlobExistsError)) throw e;
      }
    }
    const manifest: PointManifest = {
      time: snap.time,
      host: snap.host,
      sources: snap.paths,
      rootTree: snap.tree,
      volumes: snap.volumes,
      consistency: snap.consistency,
      stats: snap.stats,
      errors: snap.errors.map((e) => ({ path: e.path.slice(0, 4096), error: e.error.slice(0, 1000) })),
      snapshotId,
    };
    const chunkIds = [...new Set([snap.tree, ...snap.volumes.map((v) => v.map), ...this.pointChunks])];
    const t1 = Date.now();
    // One concatenated-hex string: one regex on each side instead of one per id.
    const { pointId } = await this.api.commitPoint({ clientPointId, manifest, chunkIdsHex: chunkIds.join("") });
    this.hooks.log?.(`point ${clientPointId.slice(0, 8)}: manifest ${t1 - t0} ms, commit of ${chunkIds.length} chunk id(s) ${Date.now() - t1} ms`);
    this.pointChunks.clear();
    this.stats.pointsCommitted++;
    this.hooks.onCommitted?.(pointId, snap, clientPointId);
  }
}

export const newClientPointId = () => randomUUID();
