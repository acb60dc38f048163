/**
 * Worker thread for restore: decrypts, decompresses and verifies the chunks
 * of one coalesced pack read, so the main thread only creates and writes
 * files. Sealed bytes arrive transferred (no copy); plaintexts go back in one
 * transferred ArrayBuffer per run.
 */
import { parentPort, workerData } from "node:worker_threads";
import { decodeRun, type DecodeRequest, type DecodeResponse } from "./decode-core";

const idKey = Buffer.from(workerData.idKey as Uint8Array);
const port = parentPort!;

port.on("message", (m: DecodeRequest) => {
  let res: DecodeResponse;
  try {
    res = decodeRun(idKey, m);
  } catch (e) {
    // decodeRun reports per-chunk failures itself; this is a bug or an allocation failure.
    res = { runId: m.runId, out: new ArrayBuffer(0), results: m.blobs.map(() => ({ error: `decode failed: ${(e as Error).message}` })) };
  }
  // Shared memory is not transferred (nor copied): the caller already sees it.
  port.postMessage(res, res.out instanceof ArrayBuffer ? [res.out] : []);
});
// The pool hands out work only after this: a worker that fails to load costs nothing but the fallback.
port.postMessage({ ready: true });
