import type { Notifier } from '../store/notifier.js';

export interface ClaimLoopOptions<T extends { id: string }> {
  /** Takes the next job, or null when there is none. */
  claim: () => Promise<T | null>;
  /** Runs one claimed job; `ctl` aborts it (shutdown). */
  run: (job: T, ctl: AbortController) => Promise<void>;
  concurrency: number;
  /** Fallback poll, for notifications lost during a reconnect. */
  poll_ms: number;
  notifier?: Notifier;
  onClaimError: (err: unknown) => void;
}

/**
 * Claims jobs up to a concurrency, runs them, and sleeps until work is announced (or the poll
 * interval passes): the loop under the worker and the image downloader.
 */
export class ClaimLoop<T extends { id: string }> {
  readonly active = new Map<string, { ctl: AbortController; done: Promise<void> }>();
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: () => void = () => {};
  private kicked = false;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly opts: ClaimLoopOptions<T>) {}

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.opts.notifier?.onWork(() => this.kick()) ?? null;
    this.loop = this.cycle();
  }

  /** Stops claiming; jobs already running go on (the caller waits for or aborts `active`). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
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
      try {
        while (this.running && this.active.size < this.opts.concurrency) {
          const job = await this.opts.claim();
          if (!job) break;
          const ctl = new AbortController();
          const done = this.opts.run(job, ctl).finally(() => {
            this.active.delete(job.id);
            this.kick();
          });
          this.active.set(job.id, { ctl, done });
        }
      } catch (err) {
        this.opts.onClaimError(err);
      }
      if (!this.running) break;
      if (this.kicked) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.poll_ms);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = () => {};
    }
  }
}
