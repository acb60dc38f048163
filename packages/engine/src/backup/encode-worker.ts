/**
 * Worker thread: runs encode-core for batches of files and streams encoded
 * chunks back in batches of ~BATCH_BYTES, at most MAX_UNACKED un-acked, so a
 * slow upload throttles reading (bounded memory).
 *
 * A batch is two transferred ArrayBuffers, never a structured clone of
 * per-chunk objects: `payload` holds records `id[32] ‖ payload` written in
 * place (zstd compresses straight into it), `meta` holds EVENT_FIELDS numbers
 * per event. The main thread hands `payload` back with its ack, so steady
 * state allocates nothing per batch.
 */
import { parentPort, workerData } from "node:worker_threads";
import { FastCdc } from "../chunker/fastcdc";
import { compressInto, maxPayload } from "../compress";
import { ID_BYTES } from "../id";
import { BATCH_CAPACITY, BUSY_BATCHES, encodeFile, EV_CHUNK_PLAIN, EV_DONE, EV_ERROR, type FromWorker, type ReadScratch, type ToWorker, type WorkerParams } from "./encode-core";

/** Flush once a batch holds this much; buffers are BATCH_CAPACITY so a typical chunk still fits. */
const BATCH_BYTES = BATCH_CAPACITY / 2;

const params = workerData as WorkerParams;
const shared = params.shared ? new Int32Array(params.shared) : undefined;
/** Below this a chunk is not worth a hand-over (compressInto does not try under 128 bytes either). */
const DELEGATE_MIN = 4096;
const cdc = new FastCdc(params.gear, params.chunker);
const port = parentPort!;
/** Batches posted but not yet saved by the main thread: two keep both sides busy, more would only queue memory. */
const MAX_UNACKED = 2;
let unacked = 0;
const ackWaiters: Array<() => void> = [];
const free: ArrayBuffer[] = [];
const queue: Array<Extract<ToWorker, { kind: "job" }>> = [];
const scratch: ReadScratch = {};
let running = false;

port.on("message", (m: ToWorker) => {
  if (m.kind === "ack") {
    unacked--;
    if (m.payload && m.payload.byteLength === BATCH_CAPACITY && free.length < MAX_UNACKED) free.push(m.payload);
    ackWaiters.shift()?.();
    return;
  }
  queue.push(m);
  if (!running) void run();
});

const newBuffer = (n = BATCH_CAPACITY) => Buffer.from(n === BATCH_CAPACITY ? (free.pop() ?? new ArrayBuffer(n)) : new ArrayBuffer(n));

async function run() {
  running = true;
  while (queue.length) {
    const job = queue.shift()!;
    let buf = newBuffer();
    let used = 0;
    let meta: number[] = [];
    let errors: string[] = [];
    let posted = 0;
    const flush = async (last: boolean) => {
      if (!meta.length && !last) return;
      while (unacked >= MAX_UNACKED) await new Promise<void>((r) => ackWaiters.push(r));
      unacked++;
      if (shared) Atomics.add(shared, BUSY_BATCHES, 1);
      const m = new Float64Array(meta);
      const payload = buf.buffer as ArrayBuffer;
      port.postMessage({ kind: "batch", jobId: job.jobId, meta: m.buffer, payload, errors, last } satisfies FromWorker, [m.buffer, payload]);
      posted++;
      meta = [];
      errors = [];
      used = 0;
      buf = last ? buf : newBuffer();
    };
    for (let i = 0; i < job.files.length; i++) {
      // Chunks of a file that fails are dropped unless already posted (the main thread never references them).
      const mark = { posted, events: meta.length, used };
      try {
        const bytes = await encodeFile(
          cdc,
          params,
          job.files[i]!,
          async (chunk, id, level) => {
            const need = ID_BYTES + maxPayload(chunk.length);
            if (used + need > buf.length) {
              await flush(false);
              if (need > buf.length) buf = newBuffer(need);
            }
            id.copy(buf, used);
            if (level > 0 && chunk.length >= DELEGATE_MIN && shared && Atomics.load(shared, BUSY_BATCHES) === 0) {
              // The main thread has nothing of ours left to do: it compresses this one (see BUSY_BATCHES).
              buf.set(chunk, used + ID_BYTES);
              meta.push(EV_CHUNK_PLAIN, i, used, chunk.length, chunk.length);
              used += ID_BYTES + chunk.length;
            } else {
              const { flag, length } = compressInto(chunk, buf.subarray(used + ID_BYTES, used + need), level);
              meta.push(flag, i, used, length, chunk.length);
              used += ID_BYTES + length;
            }
            if (used >= BATCH_BYTES) await flush(false);
          },
          scratch,
        );
        meta.push(EV_DONE, i, 0, 0, bytes);
      } catch (e) {
        // Since the last post, the batch holds only this file's chunks (or others' before `mark`).
        meta.length = posted === mark.posted ? mark.events : 0;
        used = posted === mark.posted ? mark.used : 0;
        meta.push(EV_ERROR, i, errors.length, 0, 0);
        errors.push((e as NodeJS.ErrnoException).code ?? (e as Error).message);
      }
    }
    await flush(true);
  }
  running = false;
}
