/**
 * The spool: a local engine repository with the customer's keys and chunker
 * settings. Backups always write here first, so capture goes on while the
 * server or Azure is unreachable; the uploader drains it. Tree packs stay
 * (the next point's parent reuse reads them); data packs go once uploaded.
 * Its index objects are the agent's cache of chunk ids it knows are stored.
 */
import { open } from "node:fs/promises";
import { join } from "node:path";
import { BlobNotFoundError, ForwardingBlobStore, LocalBlobStore, localStore, type BlobStore, type PutOptions } from "@tidemark/storage";
import type { MachineFile } from "./state";
import { packIdFromKeyName, Repository } from "./engine";
import type { UploadQueue } from "./queue";

/**
 * Where a pack can go straight to the customer's container while the engine still holds its
 * buffer (the Uploader when online). "unavailable": not sent (offline, failed, too slow); the pack
 * is spooled instead. "sent-keep": sent, but the spool keeps a copy (tree packs: parent reuse).
 */
export interface DirectSink {
  sendDirect(packId: string, bytes: Buffer): Promise<"sent" | "sent-keep" | "unavailable">;
}

/**
 * Every pack the engine writes goes to the customer's container directly when the sink takes it
 * (no spool write, fsync and read-back: at initial protection that was ~1.6 GB written twice on
 * a 2-core box), else to the spool as an upload item, in write order.
 */
class JournalingStore extends ForwardingBlobStore {
  direct: DirectSink | undefined;
  constructor(
    inner: BlobStore,
    private readonly queue: UploadQueue,
  ) {
    super(inner);
  }
  override get description() {
    return `spool(${this.inner.description})`;
  }
  override async put(key: string, data: Uint8Array, opts?: PutOptions): Promise<void> {
    const packId = packIdFromKeyName(key);
    if (packId && this.direct) {
      // The engine reuses `data` only once put() settles, so the sink may read it until then.
      const r = await this.direct.sendDirect(packId, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      if (r === "sent") return;
      if (r === "sent-keep") return this.inner.put(key, data, opts);
    }
    await this.inner.put(key, data, opts);
    if (packId) await this.queue.push({ kind: "pack", packId, size: data.length });
  }
}

export interface Spool {
  repo: Repository;
  /** Sends packs straight to the container while set (see DirectSink); undefined: spool everything. */
  setDirect(sink: DirectSink | undefined): void;
  /** The spool's own store, without journaling (the uploader reads and trims through it). */
  store: BlobStore;
}

export async function openSpool(dir: string, machine: MachineFile, queue: UploadQueue): Promise<Spool> {
  const raw = localStore(dir);
  const master = Buffer.from(machine.dataKey, "base64");
  const kek = Buffer.from(machine.spoolKek, "base64");
  // The customer's master key and settings: chunk ids and packs must be the container's exactly.
  if (!(await raw.head("config"))) await Repository.initWithMasterKey(raw, master, { kek }, { kekId: "agent-spool", config: machine.repository.config });
  const journal = new JournalingStore(raw, queue);
  const repo = await Repository.open(journal, { kek });
  if (repo.config.id !== machine.repository.config.id) {
    throw new Error(`the spool in ${dir} belongs to repository ${repo.config.id}, not ${machine.repository.config.id}: remove it (its unsent work is for another customer)`);
  }
  return { repo, store: raw, setDirect: (sink) => (journal.direct = sink) };
}

/** Forgets which chunks are stored (the server disagreed): the next point re-checks everything with the server. */
export async function forgetIndex(store: BlobStore): Promise<void> {
  const names: string[] = [];
  for await (const m of store.list("index/")) names.push(m.key);
  for (const n of names) await store.delete(n);
}

/**
 * A spooled object read into `spare` when it fits (a reused pack buffer), else into a fresh one.
 * The engine's saver reuses its pack buffers; re-reading every pack into a new 16 MiB buffer made
 * the uploader the main thread's largest allocator (GC, and a fresh mapping + page faults per pack
 * under the service's MALLOC_MMAP_THRESHOLD_). Other stores (tests' fakes) go through get().
 */
export async function readSpooled(store: BlobStore, key: string, spare: Buffer | undefined): Promise<{ bytes: Buffer; backing: Buffer }> {
  if (!(store instanceof LocalBlobStore)) {
    const bytes = await store.get(key);
    return { bytes, backing: bytes };
  }
  let fh;
  try {
    // The local store's layout (a key is its path under the root): see LocalBlobStore.
    fh = await open(join(store.root, ...key.split("/")), "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new BlobNotFoundError(store.description, key);
    throw e;
  }
  try {
    const { size } = await fh.stat();
    const backing = spare && spare.length >= size ? spare : Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await fh.read(backing, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { bytes: backing.subarray(0, filled), backing };
  } finally {
    await fh.close();
  }
}
