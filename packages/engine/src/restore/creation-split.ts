/**
 * Who creates the single-chunk files of a restore: the decode worker (right
 * after decoding, with their metadata) or the main thread (from the returned
 * plaintext). File creation is most of a restore's time; giving it all to the
 * worker left the main thread idle half the time, giving it all to the main
 * thread would leave the worker idle. The share follows measured busy time:
 * whichever thread was busier over the last window hands files to the other.
 */
/** Busy fractions are compared over at least this long. */
const WINDOW_MS = 250;
/** Busy fractions closer than this are balanced. */
const MARGIN = 0.05;
const STEP = 0.05;

export class CreationSplit {
  /** Fraction of single-chunk files the decode worker creates. */
  share: number;
  private acc = 0;
  private last?: { at: number; worker: number; main: number };
  private readonly fixed: boolean;

  /** `fixed`: a share that measurements do not change. */
  constructor(fixed?: number) {
    if (fixed !== undefined && !(fixed >= 0 && fixed <= 1)) throw new RangeError(`workerFileShare must be between 0 and 1, got ${fixed}`);
    this.share = fixed ?? 1;
    this.fixed = fixed !== undefined;
  }

  /** Whether the next file goes to the worker (files are dealt out evenly at the current share). */
  toWorker(): boolean {
    this.acc += this.share;
    if (this.acc < 1) return false;
    this.acc -= 1;
    return true;
  }

  /**
   * Cumulative busy milliseconds of the (mean) decode worker and of the main
   * thread's event loop; `worker` undefined means decoding runs in-thread.
   */
  update(worker: number | undefined, main: number, now = performance.now()): void {
    if (worker === undefined || this.fixed) return;
    const last = this.last;
    if (last && now - last.at < WINDOW_MS) return;
    this.last = { at: now, worker, main };
    if (!last) return;
    const dt = now - last.at;
    const w = (worker - last.worker) / dt;
    const m = (main - last.main) / dt;
    if (w > m + MARGIN) this.share = Math.max(0, this.share - STEP);
    else if (m > w + MARGIN) this.share = Math.min(1, this.share + STEP);
  }
}
