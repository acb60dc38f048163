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
export type FromWorker =
  | { kind: "chunks"; jobId: number; file: number; chunks: Array<{ id: string; rawLength: number; flag: number; start: number; end: number }>; payload: ArrayBuffer }
  | { kind: "file-done"; jobId: number; file: number; bytes: number }
  | { kind: "file-error"; jobId: number; file: number; error: string }
  | { kind: "job-done"; jobId: number };

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

async function run() {
  running = true;
  while (queue.length) {
    const job = queue.shift()!;
    for (let i = 0; i < job.files.length; i++) {
      let pending: EncodedChunk[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (!pending.length) return;
        const payload = new Uint8Array(pendingBytes);
        let o = 0;
        const chunks = pending.map((c) => {
          payload.set(c.compressed.payload, o);
          const r = { id: c.id, rawLength: c.rawLength, flag: c.compressed.flag, start: o, end: o + c.compressed.payload.length };
          o = r.end;
          return r;
        });
        pending = [];
        pendingBytes = 0;
        while (unacked >= MAX_UNACKED) await new Promise<void>((r) => ackWaiters.push(r));
        unacked++;
        port.postMessage({ kind: "chunks", jobId: job.jobId, file: i, chunks, payload: payload.buffer } satisfies FromWorker, [payload.buffer]);
      };
      try {
        const bytes = await encodeFile(cdc, params, job.files[i]!, async (c) => {
          pending.push(c);
          pendingBytes += c.compressed.payload.length;
          if (pendingBytes >= BATCH_BYTES) await flush();
        });
        await flush();
        port.postMessage({ kind: "file-done", jobId: job.jobId, file: i, bytes } satisfies FromWorker);
      } catch (e) {
        pending = [];
        port.postMessage({ kind: "file-error", jobId: job.jobId, file: i, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message } satisfies FromWorker);
      }
    }
    port.postMessage({ kind: "job-done", jobId: job.jobId } satisfies FromWorker);
  }
  running = false;
}
