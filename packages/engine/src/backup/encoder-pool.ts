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
import { FastCdc } from "../chunker/fastcdc.js";
import { encodeFile, type EncodeParams, type EncodedChunk, type FileJob } from "./encode-core.js";
import type { FromWorker, ToWorker } from "./encode-worker.js";

export type FileResult = { ids: string[]; bytes: number } | { error: string };
type OnChunk = (file: number, chunk: EncodedChunk) => Promise<void>;

interface Job {
  id: number;
  files: FileJob[];
  onChunk: OnChunk;
  results: FileResult[];
  ids: string[][];
  resolve: (r: FileResult[]) => void;
  reject: (e: unknown) => void;
}

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
  private readonly waiting: Job[] = [];
  private nextId = 1;
  private readonly cdc: FastCdc;
  private failed: unknown;

  constructor(
    private readonly params: EncodeParams,
    size = Math.max(1, availableParallelism()),
  ) {
    this.cdc = new FastCdc(params.gear, params.chunker);
    const boot = workerBoot();
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL("./encode-worker-boot.mjs", import.meta.url), { workerData: { ...params, boot } });
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
    for (const j of slot.jobs.values()) j.reject(e);
    slot.jobs.clear();
  }

  private async handle(slot: Slot, m: FromWorker): Promise<void> {
    const job = slot.jobs.get(m.jobId);
    if (!job) return;
    switch (m.kind) {
      case "chunks": {
        const payload = Buffer.from(m.payload);
        for (const c of m.chunks) {
          job.ids[m.file]!.push(c.id);
          await job.onChunk(m.file, { id: c.id, rawLength: c.rawLength, compressed: { flag: c.flag, payload: payload.subarray(c.start, c.end) } });
        }
        slot.worker.postMessage({ kind: "ack" } satisfies ToWorker);
        return;
      }
      case "file-done":
        job.results[m.file] = { ids: job.ids[m.file]!, bytes: m.bytes };
        return;
      case "file-error":
        job.results[m.file] = { error: m.error };
        return;
      case "job-done":
        slot.jobs.delete(job.id);
        job.resolve(job.results);
        this.dispatch();
        return;
    }
  }

  private dispatch() {
    while (this.waiting.length) {
      const slot = this.slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
      if (slot.jobs.size >= MAX_JOBS_PER_WORKER) return;
      const job = this.waiting.shift()!;
      slot.jobs.set(job.id, job);
      slot.worker.postMessage({ kind: "job", jobId: job.id, files: job.files } satisfies ToWorker);
    }
  }

  /** Encodes files; `onChunk` is awaited for every chunk (that is where saving and backpressure happen). */
  encode(files: FileJob[], onChunk: OnChunk): Promise<FileResult[]> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.slots.length === 0) return this.encodeHere(files, onChunk);
    return new Promise((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, files, onChunk, results: new Array(files.length), ids: files.map(() => []), resolve, reject });
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
