/**
 * Who creates the single-chunk files of a run the decode worker decodes: the
 * worker (right after decoding, with their metadata) or the main thread (from
 * the returned plaintext), dealt out evenly at a fixed share. By default the
 * worker creates all of them and the balance comes from the main thread
 * decoding whole runs itself when the worker is ahead (restore.ts); a fixed
 * share (`workerFileShare`) keeps every path testable.
 */
export class CreationSplit {
  private acc = 0;

  /** `share`: fraction of single-chunk files the decode worker creates. */
  constructor(readonly share = 1) {
    if (!(share >= 0 && share <= 1)) throw new RangeError(`workerFileShare must be between 0 and 1, got ${share}`);
  }

  /** Whether the next file goes to the worker (files are dealt out evenly at the share). */
  toWorker(): boolean {
    this.acc += this.share;
    if (this.acc < 1) return false;
    this.acc -= 1;
    return true;
  }
}
