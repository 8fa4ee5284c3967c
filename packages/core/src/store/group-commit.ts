import type { Finish } from './finish.js';

interface Queued {
  finish: Finish;
  resolve: (ended: boolean) => void;
  reject: (err: unknown) => void;
}

export interface FinishBatcherOptions {
  /** Ends a batch in one transaction, all or none (`finishOperations`). */
  many: (finishes: Finish[]) => Promise<boolean[]>;
  /** Ends one on its own (`finishOperation`). */
  one: (finish: Finish) => Promise<boolean>;
  /**
   * Whether a batch that failed so is known to have written nothing, and is run again one by
   * one (PostgreSQL refused a statement). Anything else (a connection lost at the COMMIT) may
   * have been committed: every caller hears the error, as if it had ended alone.
   */
  rolledBack: (err: unknown) => boolean;
  /** Endings in one transaction at most. */
  max_batch?: number;
  /** Transactions of endings at once. */
  max_in_flight?: number;
}

/**
 * Group commit of a worker's endings. An ending is written at once when fewer than
 * `max_in_flight` transactions of endings are open; otherwise it waits for one to commit and
 * goes with the others that gathered meanwhile, in the next one. So a quiet worker ends each
 * operation as soon as it is done, and a busy one pays a BEGIN, a COMMIT and a flush of
 * PostgreSQL's log per batch instead of per operation. Each caller still hears only once its
 * own ending is committed. A batch that PostgreSQL refused is run again one ending at a
 * time, so that one bad ending fails no other.
 */
export class FinishBatcher {
  private queued: Queued[] = [];
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(private readonly opts: FinishBatcherOptions) {
    this.maxBatch = opts.max_batch ?? 64;
    this.maxInFlight = opts.max_in_flight ?? 1;
  }

  finish(finish: Finish): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queued.push({ finish, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queued.length > 0) {
      const batch = this.queued.splice(0, this.maxBatch);
      this.inFlight++;
      void this.write(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async write(batch: Queued[]): Promise<void> {
    if (batch.length > 1) {
      try {
        const ended = await this.opts.many(batch.map((q) => q.finish));
        for (const [i, q] of batch.entries()) q.resolve(ended[i]!);
        return;
      } catch (err) {
        if (!this.opts.rolledBack(err)) {
          for (const q of batch) q.reject(err);
          return;
        }
        // Nothing of it was written: each one again on its own.
      }
    }
    await Promise.all(batch.map((q) => this.opts.one(q.finish).then(q.resolve, q.reject)));
  }
}
