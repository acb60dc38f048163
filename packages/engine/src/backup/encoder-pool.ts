/**
 * Spreads file encoding (read, chunk, keyed hash, compress) over worker
 * threads; the main thread keeps dedup, sealing, packing and uploads. With
 * `size: 0` the same code runs in-thread (embedding callers, tiny inputs).
 *
 * Workers start from a plain .mjs bootstrap that registers tsx when this
 * module itself runs as .ts (development, tests, `pnpm tidemark`).
 */
import { availableParallelism } from "node:os";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { dirname, join } from "node:path";
import { Worker } from "node:worker_threads";
import { FastCdc } from "../chunker/fastcdc";
import { compressInto, COMPRESSION_NONE, maxPayload } from "../compress";
import { ID_BYTES } from "../id";
import {
  BATCH_CAPACITY,
  BUSY_BATCHES,
  encodeFileOwned,
  EV_CHUNK_PLAIN,
  EV_DONE,
  EV_ERROR,
  EVENT_FIELDS,
  SHARED_SLOTS,
  type EncodeParams,
  type EncodedChunk,
  type FileJob,
  type FromWorker,
  type ToWorker,
  type WorkerParams,
} from "./encode-core";

export type FileResult = { ids: string[]; bytes: number } | { error: string };
type OnChunk = (file: number, chunk: EncodedChunk) => Promise<void>;

export interface EncodeOptions {
  /**
   * True for a chunk id already stored: such a chunk may reach onChunk uncompressed
   * (flag 0, its plaintext) instead of being compressed for nothing. Only chunks the
   * main thread compresses (see BUSY_BATCHES) are asked about.
   */
  known?: (id: string) => boolean;
}

/** One encode() call: its files may travel in several jobs, together with other calls' files. */
interface Request {
  onChunk: OnChunk;
  known?: (id: string) => boolean;
  results: FileResult[];
  remaining: number;
  resolve: (r: FileResult[]) => void;
  reject: (e: unknown) => void;
}

interface Entry {
  req: Request;
  index: number;
  file: FileJob;
  ids: string[];
}

interface Job {
  id: number;
  entries: Entry[];
}

/** Small files from many directories share one message; big files travel alone. */
const JOB_FILES = 256;
const JOB_BYTES = 8 * 1024 * 1024;

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
  /** Messages are handled strictly in order: a chunk batch is saved before the next message is looked at. */
  chain: Promise<void>;
  /** SHARED_SLOTS Int32 slots shared with the worker (BUSY_BATCHES). */
  shared: Int32Array;
  /** Where chunks the worker left uncompressed are compressed (grown on demand; one per worker, handled in order). */
  scratch?: Buffer;
}

const MAX_JOBS_PER_WORKER = 2;
/** Queued (not yet dispatched) work above which `ready()` holds a walker back: enough for full jobs, bounded memory. */
const BACKLOG_FILES = 4 * JOB_FILES;
const BACKLOG_BYTES = 8 * JOB_BYTES;

/** Where the worker's real module is, and the tsx API to register first when running from .ts sources. */
function workerBoot(): { tsxApi?: string; entry: string } {
  const ts = import.meta.url.endsWith(".ts");
  const entry = new URL(`./encode-worker${ts ? ".ts" : ".js"}`, import.meta.url).href;
  if (!ts) return { entry };
  // The ESM flavour of tsx's API (require.resolve would pick the CJS one); tsx is pinned.
  const pkg = createRequire(import.meta.url).resolve("tsx/package.json");
  return { tsxApi: pathToFileURL(join(dirname(pkg), "dist/esm/api/index.mjs")).href, entry };
}

export class EncoderPool {
  private readonly slots: Slot[] = [];
  /** Files not yet sent to a worker: `queue[queueHead…]` (shift() on a long array costs O(n) each). */
  private queue: Entry[] = [];
  private queueHead = 0;
  private nextId = 1;
  private readonly cdc: FastCdc;
  private failed: unknown;
  private queuedBytes = 0;
  private readonly readyWaiters: Array<() => void> = [];
  /** Chunks a worker left to the main thread that it compressed (see BUSY_BATCHES). */
  mainCompressed = 0;

  /** Worker threads this pool runs once a file needs encoding (0: in-thread). */
  private readonly workers: number;

  constructor(
    private readonly params: EncodeParams,
    size = Math.max(1, availableParallelism() - 1),
  ) {
    this.cdc = new FastCdc(params.gear, params.chunker);
    this.workers = size;
  }

  /**
   * Workers start with the first file to encode, not with the pool: a backup that
   * reads nothing (every file unchanged) never pays for booting them, and one that
   * does boots them while the walk runs instead of while the repository opens.
   */
  private start() {
    if (this.slots.length || this.workers === 0) return;
    const boot = workerBoot();
    const params = this.params;
    for (let i = 0; i < this.workers; i++) {
      // A small young generation makes workers drop read buffers promptly (RSS, not speed, is the limit here).
      const shared = new SharedArrayBuffer(SHARED_SLOTS * 4);
      const workerData: WorkerParams & { boot: typeof boot } = { ...params, shared, boot };
      const worker = new Worker(new URL("./encode-worker-boot.mjs", import.meta.url), { workerData, resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 128 } });
      worker.unref();
      const slot: Slot = { worker, jobs: new Map(), chain: Promise.resolve(), shared: new Int32Array(shared) };
      worker.on("message", (m: FromWorker) => {
        slot.chain = slot.chain.then(() => this.handle(slot, m)).catch((e) => this.fail(slot, e));
      });
      worker.on("error", (e) => this.fail(slot, e));
      worker.on("exit", (code) => {
        if (slot.jobs.size) this.fail(slot, new Error(`encoder worker exited with code ${code}`));
      });
      this.slots.push(slot);
    }
  }

  get size(): number {
    return this.workers;
  }

  /** Worker threads running now (they start with the first file to encode). */
  get running(): number {
    return this.slots.length;
  }

  private fail(slot: Slot, e: unknown) {
    this.failed ??= e;
    for (const w of this.readyWaiters.splice(0)) w();
    for (const j of slot.jobs.values()) for (const en of j.entries) en.req.reject(e);
    slot.jobs.clear();
  }

  private async handle(slot: Slot, m: FromWorker): Promise<void> {
    try {
      await this.handleBatch(slot, m);
    } finally {
      Atomics.sub(slot.shared, BUSY_BATCHES, 1);
    }
  }

  private async handleBatch(slot: Slot, m: FromWorker): Promise<void> {
    const job = slot.jobs.get(m.jobId);
    if (!job) return;
    const payload = Buffer.from(m.payload);
    const meta = new Float64Array(m.meta);
    for (let e = 0; e < meta.length; e += EVENT_FIELDS) {
      const code = meta[e]!;
      const en = job.entries[meta[e + 1]!]!;
      if (code === EV_DONE) {
        this.settle(en, { ids: en.ids, bytes: meta[e + 4]! });
      } else if (code === EV_ERROR) {
        this.settle(en, { error: m.errors[meta[e + 2]!]! });
      } else {
        const at = meta[e + 2]!;
        const id = payload.toString("hex", at, at + ID_BYTES);
        en.ids.push(id);
        const start = at + ID_BYTES;
        const data = payload.subarray(start, start + meta[e + 3]!);
        const rawLength = meta[e + 4]!;
        if (code !== EV_CHUNK_PLAIN) {
          await en.req.onChunk(en.index, { id, rawLength, compressed: { flag: code, payload: data } });
        } else if (en.req.known?.(id)) {
          await en.req.onChunk(en.index, { id, rawLength, compressed: { flag: COMPRESSION_NONE, payload: data } });
        } else {
          const need = maxPayload(data.length);
          if (!slot.scratch || slot.scratch.length < need) slot.scratch = Buffer.allocUnsafe(need);
          const { flag, length } = compressInto(data, slot.scratch, this.params.zstdLevel);
          this.mainCompressed++;
          await en.req.onChunk(en.index, { id, rawLength, compressed: flag === COMPRESSION_NONE ? { flag, payload: data } : { flag, payload: slot.scratch.subarray(0, length) } });
        }
      }
    }
    // The payload is free again once every onChunk has settled: it goes back for the worker's next batch.
    const back = m.payload.byteLength === BATCH_CAPACITY ? m.payload : undefined;
    slot.worker.postMessage({ kind: "ack", ...(back ? { payload: back } : {}) } satisfies ToWorker, back ? [back] : []);
    if (m.last) {
      slot.jobs.delete(job.id);
      this.dispatch();
    }
  }

  private settle(en: Entry, r: FileResult) {
    en.req.results[en.index] = r;
    if (--en.req.remaining === 0) en.req.resolve(en.req.results);
  }

  private dispatch() {
    while (this.queueHead < this.queue.length) {
      const slot = this.slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
      if (slot.jobs.size >= MAX_JOBS_PER_WORKER) break;
      const entries: Entry[] = [];
      let bytes = 0;
      while (this.queueHead < this.queue.length && entries.length < JOB_FILES) {
        const next = this.queue[this.queueHead]!;
        if (entries.length && bytes + next.file.size > JOB_BYTES) break;
        entries.push(next);
        this.queueHead++;
        bytes += next.file.size;
      }
      this.queuedBytes -= bytes;
      const job: Job = { id: this.nextId++, entries };
      slot.jobs.set(job.id, job);
      slot.worker.postMessage({ kind: "job", jobId: job.id, files: entries.map((e) => e.file) } satisfies ToWorker);
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    }
    if (!this.backlogged()) for (const w of this.readyWaiters.splice(0)) w();
  }

  private backlogged(): boolean {
    return this.queue.length - this.queueHead >= BACKLOG_FILES || this.queuedBytes >= BACKLOG_BYTES;
  }

  /**
   * Resolves once the queue of not-yet-dispatched files is short enough to
   * take more. A walker that does not wait for each directory's files to be
   * encoded (so the workers never starve) awaits this to stay bounded.
   */
  ready(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.workers === 0 || this.closed ? this.hereQueued < BACKLOG_FILES : !this.backlogged()) return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  /**
   * Encodes files; `onChunk` is awaited for every chunk (that is where saving
   * and backpressure happen). A chunk's `compressed.payload` may be a view of a
   * worker's batch buffer: it is valid only until that onChunk settles.
   */
  encode(files: FileJob[], onChunk: OnChunk, opts: EncodeOptions = {}): Promise<FileResult[]> {
    if (this.failed) return Promise.reject(this.failed);
    if (files.length === 0) return Promise.resolve([]);
    if (this.workers === 0 || this.closed) {
      // One call at a time: concurrent calls (a walker that does not wait per directory)
      // would each hold a file's read buffer (up to ~2×max chunk) at once.
      this.hereQueued += files.length;
      const run = this.hereChain.then(() => this.encodeHere(files, onChunk));
      this.hereChain = run.then(
        () => this.hereDone(files.length),
        () => this.hereDone(files.length),
      );
      return run;
    }
    this.start();
    return new Promise((resolve, reject) => {
      const req: Request = { onChunk, ...(opts.known ? { known: opts.known } : {}), results: new Array(files.length), remaining: files.length, resolve, reject };
      files.forEach((file, index) => this.queue.push({ req, index, file, ids: [] }));
      this.queuedBytes += files.reduce((a, f) => a + f.size, 0);
      this.dispatch();
    });
  }

  private hereChain: Promise<void> = Promise.resolve();
  private hereQueued = 0;

  private hereDone(n: number) {
    this.hereQueued -= n;
    if (this.hereQueued < BACKLOG_FILES) for (const w of this.readyWaiters.splice(0)) w();
  }

  private async encodeHere(files: FileJob[], onChunk: OnChunk): Promise<FileResult[]> {
    const out: FileResult[] = [];
    for (let i = 0; i < files.length; i++) {
      const ids: string[] = [];
      try {
        const bytes = await encodeFileOwned(this.cdc, this.params, files[i]!, async (c) => {
          ids.push(c.id);
          await onChunk(i, c);
        });
        out.push({ ids, bytes });
      } catch (e) {
        out.push({ error: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
      }
    }
    return out;
  }

  /** After close() files are encoded in-thread (as before workers existed): nothing restarts them. */
  private closed = false;

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
