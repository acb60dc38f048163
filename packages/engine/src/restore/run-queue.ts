/**
 * Data reads of a restore, started while planning is still adding more:
 * at most `limit` run at once, in the order pushed. The first failure stops
 * new starts; `settle` waits for the ones already running (they may still be
 * writing files or waiting on the decoder), `drain` also rethrows it.
 */
export class RunQueue {
  private active = 0;
  private jobs: Array<() => Promise<void>> = [];
  private head = 0;
  private failure?: { error: unknown };
  private waiters: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`concurrency must be at least 1, got ${limit}`);
  }

  push(job: () => Promise<void>): void {
    this.jobs.push(job);
    this.pump();
  }

  /** Jobs running now. */
  busy(): boolean {
    return this.active > 0;
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Every pushed job has run; throws the first failure. */
  async drain(): Promise<void> {
    await this.settle();
    this.throwIfFailed();
  }

  /** Nothing is running and nothing more will start (all done, or a failure stopped the rest). */
  async settle(): Promise<void> {
    while (this.active > 0 || (!this.failure && this.head < this.jobs.length)) await new Promise<void>((r) => this.waiters.push(r));
  }

  private pump(): void {
    while (!this.failure && this.active < this.limit && this.head < this.jobs.length) {
      const job = this.jobs[this.head++]!;
      // Long restores push thousands of runs: drop the started ones now and then.
      if (this.head >= 1024 && this.head * 2 >= this.jobs.length) {
        this.jobs = this.jobs.slice(this.head);
        this.head = 0;
      }
      this.active++;
      job()
        .catch((e: unknown) => {
          this.failure ??= { error: e };
        })
        .finally(() => {
          this.active--;
          this.pump();
          const w = this.waiters;
          this.waiters = [];
          for (const wake of w) wake();
        });
    }
  }
}
