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
import { readSpooled, type DirectSink } from "./spool";

const REFRESH_BEFORE_MS = 5 * 60_000;
/** Packs sent at once: hides PUT and report latency (as the engine's saver does); each costs one pack of memory. */
const PACKS_IN_FLIGHT = 3;
/** How long one drain keeps taking newly queued items before it returns (the caller then re-reads the spool size). */
const REFILL_MS = 15_000;
/**
 * A direct send (see sendDirect) still running after this is abandoned and the pack spooled: the
 * engine waits on it, so a hung network must not stall capture for the retries' minutes.
 */
const DIRECT_DEADLINE_MS = 60_000;
/**
 * Packs the engine stores at once while they go up directly (BackupOptions.uploads): each direct
 * send is three round trips (missing check, put + index object, report), not the CLI's one put.
 */
export const DIRECT_PACKS_IN_FLIGHT = 4;

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

export class Uploader implements DirectSink {
  /** Chunk ids of packs drained since the last committed point: sent with it so the server can verify them. */
  private pointChunks = new Set<string>();
  /** Chunk ids of packs sent directly since the last point was queued (see pointQueued). */
  private directChunks = new Set<string>();
  /** ... and of each queued, uncommitted point, by snapshot id. */
  private readonly directByPoint = new Map<string, Set<string>>();
  /**
   * Whether packs may go straight up while the engine writes them. Off after a direct send fails
   * (offline: capture spools at full speed), on again once a drain has emptied the spool's queue.
   */
  private directOk = true;
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
    private readonly opts: { directDeadlineMs?: number } = {},
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
      const done = await this.drainQueue(signal);
      if (!signal?.aborted && !(await this.queue.list()).some((i) => i.item.kind === "pack")) this.directOk = true;
      return done;
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
            this.directByPoint.delete(item.snapshotId);
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

  /**
   * Sends a pack the engine has just sealed, from the engine's own buffer (DirectSink): the same
   * steps as a spooled pack (missing check, put, index object, report) before the engine's put()
   * returns, so a point queued after it never waits on it. Any failure, or DIRECT_DEADLINE_MS,
   * spools the pack instead and turns direct sends off until the spool has drained. A kill after
   * the put but before the report costs at most the packs in flight being sent again.
   */
  async sendDirect(packId: string, bytes: Buffer): Promise<"sent" | "sent-keep" | "unavailable"> {
    if (!this.directOk) return "unavailable";
    const ctl = new AbortController();
    const deadline = this.opts.directDeadlineMs ?? DIRECT_DEADLINE_MS;
    const timer = setTimeout(() => ctl.abort(new Error(`direct upload still running after ${deadline / 1000} s`)), deadline);
    try {
      const trees = await this.send(packId, bytes, this.directChunks, ctl.signal);
      return trees ? "sent-keep" : "sent";
    } catch (e) {
      if (e instanceof StorageError && e.status === 403) this.target.invalidate();
      if (this.directOk) this.hooks.log?.(`pack ${packId.slice(0, 12)}: direct upload failed (${(e as Error).message.slice(0, 300)}); spooling until uploads catch up`);
      this.directOk = false;
      return "unavailable";
    } finally {
      clearTimeout(timer);
    }
  }

  /** Capture queued a point: the packs sent directly since the last one belong to it. */
  pointQueued(snapshotId: string): void {
    if (this.directChunks.size === 0) return;
    this.directByPoint.set(snapshotId, this.directChunks);
    this.directChunks = new Set();
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
      // Tree packs stay: the next point's parent reuse reads trees locally (the SAS may not read).
      if (!(await this.send(packId, read.bytes, this.pointChunks))) await this.spoolStore.delete(key);
    } finally {
      // Nothing keeps the pack's bytes once send() settles: put() has returned (an abandoned retry
      // attempt carries the MD5 of the bytes it started with, so Azure refuses it if they change).
      if (this.spare.length < PACKS_IN_FLIGHT) this.spare.push(read.backing);
    }
  }

  /**
   * Missing check, put, index object, report. Returns whether the pack holds trees. With a
   * signal, an abort ends it at the next step; the put itself is aborted (its request stops
   * reading `bytes`) and awaited, so nothing reads `bytes` once this settles.
   */
  private async send(packId: string, bytes: Buffer, into: Set<string>, signal?: AbortSignal): Promise<boolean> {
    const t0 = Date.now();
    const parsed = parseTrailer(this.repo.keys, packId, bytes);
    const ids = [...new Set(parsed.blobs.map((b) => b.id.toString("hex")))];
    const trees = parsed.blobs.some((b) => b.type === BLOB_TREE);
    const missing = await abortable(this.missing(ids), signal);
    const t1 = Date.now();
    let t2 = t1;
    let t3 = t1;
    if (missing.size === 0) {
      this.stats.packsSkipped++;
    } else {
      const out = missing.size === ids.length ? { id: packId, bytes, salt: parsed.salt, blobs: parsed.blobs } : this.repack(packId, bytes, parsed.key, parsed.blobs, missing);
      const store = await abortable(this.target.store(), signal);
      const name = packKeyName(out.id);
      // A pack the engine has just sealed (direct) was never sent: skip the HEAD (create-only put
      // still answers "exists"). A spooled one may be durable from a run killed after its put.
      const there = signal ? null : await store.head(name);
      if (!there || there.size !== out.bytes.length) {
        try {
          await store.put(name, out.bytes, { ifNotExists: true, ...(signal ? { signal } : {}) });
        } catch (e) {
          // Same name means same bytes (SHA-256): someone (an earlier run) already made it durable.
          if (!(e instanceof BlobExistsError)) throw e;
        }
        this.stats.bytesUploaded += out.bytes.length;
        this.hooks.onUploaded?.(out.bytes.length);
      }
      t2 = Date.now();
      const indexed: IndexedPack = { id: out.id, salt: out.salt, size: out.bytes.length, blobs: out.blobs };
      await abortable(writeIndexObject(store, this.repo.keys, [indexed]), signal);
      t3 = Date.now();
      await abortable(this.api.reportPack({
        packId: out.id,
        size: out.bytes.length,
        salt: out.salt.toString("base64"),
        // Columns, not one object per entry: a 10k-entry report costs both ends a third of the CPU.
        columns: packColumns(out.blobs),
      }), signal);
      this.stats.packsUploaded++;
      for (const id of missing) this.forced.delete(id);
    }
    // Only once the pack is reported: a point's commit lists these ids as indexed.
    for (const id of ids) into.add(id);
    this.hooks.log?.(`pack ${packId.slice(0, 12)}${signal ? " (direct)" : ""}: ${missing.size}/${ids.length} chunk(s) missing (${t1 - t0} ms), put ${t2 - t1} ms, index ${t3 - t2} ms, report ${Date.now() - t3} ms`);
    return trees;
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
    const direct = this.directByPoint.get(snapshotId) ?? [];
    const chunkIds = [...new Set([snap.tree, ...snap.volumes.map((v) => v.map), ...this.pointChunks, ...direct])];
    const t1 = Date.now();
    // One concatenated-hex string: one regex on each side instead of one per id.
    const { pointId } = await this.api.commitPoint({ clientPointId, manifest, chunkIdsHex: chunkIds.join("") });
    this.hooks.log?.(`point ${clientPointId.slice(0, 8)}: manifest ${t1 - t0} ms, commit of ${chunkIds.length} chunk id(s) ${Date.now() - t1} ms`);
    this.pointChunks.clear();
    this.directByPoint.delete(snapshotId);
    this.stats.pointsCommitted++;
    this.hooks.onCommitted?.(pointId, snap, clientPointId);
  }
}

export const newClientPointId = () => randomUUID();

/** `p`, or the signal's reason once it aborts (p runs on; its result is dropped). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
