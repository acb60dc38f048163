/**
 * Worker thread: runs encode-core for batches of files and streams encoded
 * chunks back in messages of ≤ BATCH_BYTES, waiting for an ack after each
 * one so a slow upload throttles reading (bounded memory).
 */
import { parentPort, workerData } from "node:worker_threads";
import { FastCdc } from "../chunker/fastcdc";
import { encodeFile, type EncodeParams, type EncodedChunk, type FileJob } from "./encode-core";

const BATCH_BYTES = 4 * 1024 * 1024;

export type ToWorker = { kind: "job"; jobId: number; files: FileJob[] } | { kind: "ack" };
/** In order: a file's chunks, then its "done"/"error". Small files share a batch (one message, not two per file). */
export type BatchEvent =
  | { t: "chunk"; file: number; id: string; rawLength: number; flag: number; start: number; end: number }
  | { t: "done"; file: number; bytes: number }
  | { t: "error"; file: number; error: string };
export type FromWorker = { kind: "batch"; jobId: number; events: BatchEvent[]; payload: ArrayBuffer } | { kind: "job-done"; jobId: number };

const params = workerData as EncodeParams;
const cdc = new FastCdc(params.gear, params.chunker);
const port = parentPort!;
/** Batches posted but not yet saved by the main thread: two keep both sides busy, more would only queue memory. */
const MAX_UNACKED = 2;
let unacked = 0;
const ackWaiters: Array<() => void> = [];
const queue: Array<Extract<ToWorker, { kind: "job" }>> = [];
let running = false;

port.on("message", (m: ToWorker) => {
  if (m.kind === "ack") {
    unacked--;
    ackWaiters.shift()?.();
    return;
  }
  queue.push(m);
  if (!running) void run();
});

type Pending = { ev: BatchEvent; payload?: Buffer };

async function run() {
  running = true;
  while (queue.length) {
    const job = queue.shift()!;
    let pending: Pending[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (!pending.length) return;
      const payload = new Uint8Array(pendingBytes);
      let o = 0;
      const events = pending.map(({ ev, payload: p }) => {
        if (ev.t !== "chunk" || !p) return ev;
        payload.set(p, o);
        ev.start = o;
        ev.end = o + p.length;
        o = ev.end;
        return ev;
      });
      pending = [];
      pendingBytes = 0;
      while (unacked >= MAX_UNACKED) await new Promise<void>((r) => ackWaiters.push(r));
      unacked++;
      port.postMessage({ kind: "batch", jobId: job.jobId, events, payload: payload.buffer } satisfies FromWorker, [payload.buffer]);
    };
    for (let i = 0; i < job.files.length; i++) {
      // Chunks of a file that fails are dropped unless already posted (as before batching).
      const mark = pending.length;
      try {
        const bytes = await encodeFile(cdc, params, job.files[i]!, async (c) => {
          pending.push({ ev: { t: "chunk", file: i, id: c.id, rawLength: c.rawLength, flag: c.compressed.flag, start: 0, end: 0 }, payload: c.compressed.payload });
          pendingBytes += c.compressed.payload.length;
          if (pendingBytes >= BATCH_BYTES) await flush();
        });
        pending.push({ ev: { t: "done", file: i, bytes } });
      } catch (e) {
        if (pending.length > mark) {
          for (const p of pending.splice(mark)) pendingBytes -= p.payload?.length ?? 0;
        }
        pending.push({ ev: { t: "error", file: i, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message } });
      }
    }
    await flush();
    port.postMessage({ kind: "job-done", jobId: job.jobId } satisfies FromWorker);
  }
  running = false;
}
