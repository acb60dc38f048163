/**
 * Decode workers for restore. Profiled restore was bound by the main thread
 * (GCM open, zstd, HMAC verify and their garbage next to file creation):
 * moving the decoding to workers leaves the main thread with the
 * synchronous writes, which were measured faster than async ones.
 *
 * Workers start from `.ts` sources through the backup encoder's bootstrap
 * (it registers tsx), from a compiled `decode-worker.js` beside this module,
 * or from an explicit `entry` (a bundle ships its own worker file). When no
 * worker can start, runs are decoded in-thread with the same code.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import * as workerThreads from "node:worker_threads";
import type { Worker } from "node:worker_threads";
import { decodeRun, type DecodeRequest, type DecodeResponse } from "./decode-core";

export interface DecodeWorkerOptions {
  /** Worker threads; 0 decodes in the calling thread. */
  workers: number;
  /** Module the workers run (a plain .js/.mjs file); default: decode-worker next to this module. */
  entry?: string | URL;
}

type Pending = { resolve: (r: DecodeResponse) => void; reject: (e: unknown) => void };

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Settles when the worker has loaded its module (true) or died first (false). */
  started: Promise<boolean>;
  ready: boolean;
  dead?: unknown;
}

function workerSpec(entry: string | URL | undefined): { file: URL; workerData: Record<string, unknown> } {
  if (entry !== undefined) return { file: typeof entry === "string" ? pathToFileURL(entry) : entry, workerData: {} };
  const ts = import.meta.url.endsWith(".ts");
  const entryUrl = new URL(`./decode-worker${ts ? ".ts" : ".js"}`, import.meta.url);
  if (!ts) return { file: entryUrl, workerData: {} };
  // Node 20 does not apply tsx's hooks to a worker's main module: the encoder's plain-JS bootstrap registers them.
  const pkg = createRequire(import.meta.url).resolve("tsx/package.json");
  const tsxApi = pathToFileURL(join(dirname(pkg), "dist/esm/api/index.mjs")).href;
  return {
    file: new URL("../backup/encode-worker-boot.mjs", import.meta.url),
    workerData: { boot: { tsxApi, entry: entryUrl.href } },
  };
}

/**
 * The Worker constructor reached opaquely: the portal's bundler (Turbopack) analyses `new Worker(x)`
 * and, when x is not a literal URL, traces the whole project as possible worker code (vitest
 * configs, e2e specs, esbuild binaries) and the build fails. The file is chosen at run time here.
 */
const WorkerThread: typeof Worker = workerThreads[["Wor", "ker"].join("") as "Worker"];

export class DecodePool {
  private readonly slots: Slot[] = [];
  private nextRun = 1;
  private turn = 0;

  constructor(
    private readonly idKey: Buffer,
    opts: DecodeWorkerOptions,
  ) {
    if (opts.workers <= 0) return;
    let spec: ReturnType<typeof workerSpec>;
    try {
      spec = workerSpec(opts.entry);
    } catch {
      return; // no tsx to boot from: decode in-thread
    }
    for (let i = 0; i < opts.workers; i++) {
      let worker: Worker;
      try {
        // A small young generation frees the per-chunk decrypt/decompress buffers promptly (peak RSS is a target).
        worker = new WorkerThread(spec.file, {
          workerData: { ...spec.workerData, idKey: new Uint8Array(idKey) },
          resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 128 },
        });
      } catch {
        break;
      }
      let started!: (ok: boolean) => void;
      const slot: Slot = { worker, pending: new Map(), started: new Promise((r) => (started = r)), ready: false };
      worker.on("message", (m: DecodeResponse | { ready: true }) => {
        if ("ready" in m) {
          slot.ready = true;
          started(true);
          return;
        }
        const p = slot.pending.get(m.runId);
        slot.pending.delete(m.runId);
        p?.resolve(m);
      });
      const die = (e: unknown) => {
        slot.dead ??= e;
        started(false);
        for (const p of slot.pending.values()) p.reject(e);
        slot.pending.clear();
      };
      worker.on("error", die);
      worker.on("exit", (code) => die(new Error(`decode worker exited with code ${code}`)));
      this.slots.push(slot);
    }
  }

  /** Workers that started and are alive (0: everything decodes in-thread). */
  async workers(): Promise<number> {
    await Promise.all(this.slots.map((s) => s.started));
    return this.slots.filter((s) => s.ready && !s.dead).length;
  }

  /**
   * Runs handed to the least-loaded live worker and not yet answered (the one it is decoding
   * included), or undefined when every run decodes in-thread.
   */
  backlog(): number | undefined {
    let min: number | undefined;
    for (const s of this.slots) if (s.ready && !s.dead && (min === undefined || s.pending.size < min)) min = s.pending.size;
    return min;
  }

  /** Decodes a run on the calling thread now, with the same code and errors as a worker. */
  decodeHere(req: Omit<DecodeRequest, "runId">): DecodeResponse {
    return decodeRun(this.idKey, { ...req, runId: this.nextRun++ });
  }

  /**
   * Decodes one run. `sealed` is handed over: when it owns its whole
   * ArrayBuffer it is transferred to the worker, so the caller must not use it afterwards.
   */
  async decode(req: Omit<DecodeRequest, "runId">): Promise<DecodeResponse> {
    // Nothing is handed to a worker before it has loaded: one that cannot start (bad entry,
    // no tsx) costs a fallback to in-thread decoding, never the chunks.
    if (!this.slots.some((s) => s.ready && !s.dead)) await Promise.all(this.slots.map((s) => s.started));
    const live = this.slots.filter((s) => s.ready && !s.dead);
    const runId = this.nextRun++;
    if (live.length === 0) return decodeRun(this.idKey, { ...req, runId });
    // Fewest runs queued wins; ties rotate so equal workers share the load.
    this.turn = (this.turn + 1) % live.length;
    let slot = live[this.turn]!;
    for (const s of live) if (s.pending.size < slot.pending.size) slot = s;
    const s = req.sealed;
    // A view into a larger or pooled buffer must not be transferred (that would detach unrelated bytes).
    const sealed = s.byteOffset === 0 && s.byteLength === s.buffer.byteLength && !(s.buffer instanceof SharedArrayBuffer) ? s : new Uint8Array(s);
    const key = new Uint8Array(req.key);
    return new Promise<DecodeResponse>((resolve, reject) => {
      slot.pending.set(runId, { resolve, reject });
      slot.worker.postMessage({ ...req, key, sealed, runId } satisfies DecodeRequest, [sealed.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
