export interface ClaimLoopOptions<T extends { id: string }> {
  /**
   * Takes up to `max` jobs (at least one when there is any), none when there is none; `signal`
   * aborts a claim that waits (a long-poll) at stop.
   */
  claim: (signal: AbortSignal, max: number) => Promise<T[]>;
  /**
   * Runs one claimed job; `ctl` aborts it (shutdown). `free` gives its slot back before it ends:
   * what is left (its ending, written in a group commit with others) no longer counts against
   * `concurrency`, so the next jobs are claimed while it is written.
   */
  run: (job: T, ctl: AbortController, free: () => void) => Promise<void>;
  concurrency: number;
  /** Fallback poll, for notifications lost during a reconnect. */
  poll_ms: number;
  /** Subscribes to wake-ups when work is queued (a NOTIFY); returns the unsubscribe. */
  onWork?: (listener: () => void) => () => void;
  onClaimError: (err: unknown) => void;
}

const CLAIM_ERROR_PAUSE_MS = 1_000;

/**
 * Claims jobs up to a concurrency, runs them, and sleeps until work is announced (or the poll
 * interval passes): the loop under the worker and the image downloader.
 */
export class ClaimLoop<T extends { id: string }> {
  /** Every job claimed and not yet ended (stop waits for these). */
  readonly active = new Map<string, { ctl: AbortController; done: Promise<void> }>();
  /** Jobs holding a slot: claimed, and not yet freed or ended. */
  private busy = 0;
  /** Jobs that would free their slot but for the cap on those without one (their give-up, in order). */
  private readonly freeing = new Set<() => void>();
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: () => void = () => {};
  private kicked = false;
  private unsubscribe: (() => void) | null = null;
  private stopping = new AbortController();

  constructor(private readonly opts: ClaimLoopOptions<T>) {}

  /** Jobs holding a slot. */
  get busySlots(): number {
    return this.busy;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    this.unsubscribe = this.opts.onWork?.(() => this.kick()) ?? null;
    this.loop = this.cycle();
  }

  /** Stops claiming; jobs already running go on (the caller waits for or aborts `active`). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopping.abort();
    this.unsubscribe?.();
    this.kick();
    await this.loop;
  }

  kick(): void {
    this.kicked = true;
    this.wake();
  }

  private async cycle(): Promise<void> {
    while (this.running) {
      this.kicked = false;
      let failed = false;
      try {
        while (this.running && this.busy < this.opts.concurrency) {
          const jobs = await this.opts.claim(this.stopping.signal, this.opts.concurrency - this.busy);
          if (jobs.length === 0) break;
          for (const job of jobs) {
            const ctl = new AbortController();
            let holds = true;
            const giveUp = () => {
              holds = false;
              this.busy--;
              this.kick();
            };
            const free = () => {
              if (!holds || this.freeing.has(giveUp)) return;
              // At most `concurrency` jobs wait on their endings without a slot: past that, one
              // keeps its slot until one of those ends (endings slower than the work cannot pile up).
              if (this.active.size - this.busy < this.opts.concurrency) giveUp();
              else this.freeing.add(giveUp);
            };
            // Listed before it runs: a job that frees its slot at once is counted among those without one.
            const entry = { ctl, done: Promise.resolve() };
            this.active.set(job.id, entry);
            this.busy++;
            entry.done = this.opts.run(job, ctl, free).finally(() => {
              this.active.delete(job.id);
              this.freeing.delete(giveUp);
              if (holds) giveUp();
              else {
                // Its place among the jobs without a slot goes to one waiting for it.
                const next = this.freeing.values().next();
                if (!next.done) {
                  this.freeing.delete(next.value);
                  next.value();
                }
              }
            });
          }
        }
      } catch (err) {
        this.opts.onClaimError(err);
        failed = true;
      }
      if (!this.running) break;
      if (this.kicked && !failed) continue;
      // After a failed claim (the database or the API is down), a pause: never a hot loop.
      const pause = failed ? Math.max(this.opts.poll_ms, CLAIM_ERROR_PAUSE_MS) : this.opts.poll_ms;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pause);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = () => {};
    }
  }
}
