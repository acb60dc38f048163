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
import { encodeFile, type EncodeParams, type EncodedChunk, type FileJob } from "./encode-core";
import type { FromWorker, ToWorker } from "./encode-worker";

export type FileResult = { ids: string[]; bytes: number } | { error: string };
type OnChunk = (file: number, chunk: EncodedChunk) => Promise<void>;

/** One encode() call: its files may travel in several jobs, together with other calls' files. */
interface Request {
  onChunk: OnChunk;
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
}

const MAX_JOBS_PER_WORKER = 2;

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
  private readonly queue: Entry[] = [];
  private nextId = 1;
  private readonly cdc: FastCdc;
  private failed: unknown;

  constructor(
    private readonly params: EncodeParams,
    size = Math.max(1, availableParallelism() - 1),
  ) {
    this.cdc = new FastCdc(params.gear, params.chunker);
    const boot = workerBoot();
    for (let i = 0; i < size; i++) {
      // A small young generation makes workers drop read buffers promptly (RSS, not speed, is the limit here).
      const worker = new Worker(new URL("./encode-worker-boot.mjs", import.meta.url), { workerData: { ...params, boot }, resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 128 } });
      worker.unref();
      const slot: Slot = { worker, jobs: new Map(), chain: Promise.resolve() };
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
    return this.slots.length;
  }

  private fail(slot: Slot, e: unknown) {
    this.failed ??= e;
    for (const j of slot.jobs.values()) for (const en of j.entries) en.req.reject(e);
    slot.jobs.clear();
  }

  private async handle(slot: Slot, m: FromWorker): Promise<void> {
    const job = slot.jobs.get(m.jobId);
    if (!job) return;
    switch (m.kind) {
      case "batch": {
        const payload = Buffer.from(m.payload);
        for (const ev of m.events) {
          const en = job.entries[ev.file]!;
          if (ev.t === "chunk") {
            en.ids.push(ev.id);
            await en.req.onChunk(en.index, { id: ev.id, rawLength: ev.rawLength, compressed: { flag: ev.flag, payload: payload.subarray(ev.start, ev.end) } });
          } else {
            en.req.results[en.index] = ev.t === "done" ? { ids: en.ids, bytes: ev.bytes } : { error: ev.error };
            if (--en.req.remaining === 0) en.req.resolve(en.req.results);
          }
        }
        slot.worker.postMessage({ kind: "ack" } satisfies ToWorker);
        return;
      }
      case "job-done":
        slot.jobs.delete(job.id);
        this.dispatch();
        return;
    }
  }

  private dispatch() {
    while (this.queue.length) {
      const slot = this.slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
      if (slot.jobs.size >= MAX_JOBS_PER_WORKER) return;
      const entries: Entry[] = [];
      let bytes = 0;
      while (this.queue.length && entries.length < JOB_FILES) {
        const next = this.queue[0]!;
        if (entries.length && bytes + next.file.size > JOB_BYTES) break;
        entries.push(this.queue.shift()!);
        bytes += next.file.size;
      }
      const job: Job = { id: this.nextId++, entries };
      slot.jobs.set(job.id, job);
      slot.worker.postMessage({ kind: "job", jobId: job.id, files: entries.map((e) => e.file) } satisfies ToWorker);
    }
  }

  /** Encodes files; `onChunk` is awaited for every chunk (that is where saving and backpressure happen). */
  encode(files: FileJob[], onChunk: OnChunk): Promise<FileResult[]> {
    if (this.failed) return Promise.reject(this.failed);
    if (files.length === 0) return Promise.resolve([]);
    if (this.slots.length === 0) return this.encodeHere(files, onChunk);
    return new Promise((resolve, reject) => {
      const req: Request = { onChunk, results: new Array(files.length), remaining: files.length, resolve, reject };
      files.forEach((file, index) => this.queue.push({ req, index, file, ids: [] }));
      this.dispatch();
    });
  }

  private async encodeHere(files: FileJob[], onChunk: OnChunk): Promise<FileResult[]> {
    const out: FileResult[] = [];
    for (let i = 0; i < files.length; i++) {
      const ids: string[] = [];
      try {
        const bytes = await encodeFile(this.cdc, this.params, files[i]!, async (c) => {
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

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
