interface Queued<In, Out> {
  item: In;
  resolve: (out: Out) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitOptions<In, Out> {
  /** Writes a batch in one transaction, all or none, answering each item in its order. */
  many: (items: In[]) => Promise<Out[]>;
  /** Writes one on its own. */
  one: (item: In) => Promise<Out>;
  /**
   * Whether a batch that failed so is known to have written nothing, and is run again one by
   * one (PostgreSQL refused a statement). Anything else (a connection lost at the COMMIT) may
   * have been committed: every caller hears the error, as if it had been written alone.
   */
  rolledBack: (err: unknown) => boolean;
  /** Items in one transaction at most. */
  max_batch?: number;
  /** Transactions at once. */
  max_in_flight?: number;
  /**
   * Items that must be waiting for a transaction to begin beside one already open (default: a
   * full batch). Fewer wait for the open one to commit, and go together in the next: a burst is
   * not cut into many small transactions, and only a large one is written in parallel.
   */
  min_parallel_batch?: number;
}

/**
 * Group commit: an item is written at once when no transaction is open; otherwise it waits for
 * one to commit and goes with the others that gathered meanwhile, in the next one (or, when
 * `min_parallel_batch` of them gather, in one begun beside it, up to `max_in_flight`). So a
 * quiet process writes each item as soon as it comes, and a busy one pays a BEGIN, a COMMIT and
 * a flush of PostgreSQL's log per batch instead of per item. Each caller still hears only once
 * its own item is committed. A batch that was rolled back is run again one item at a time, so
 * that one bad item fails no other.
 */
export class GroupCommit<In, Out> {
  private queued: Queued<In, Out>[] = [];
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly minParallelBatch: number;

  constructor(private readonly opts: GroupCommitOptions<In, Out>) {
    this.maxBatch = opts.max_batch ?? 64;
    this.maxInFlight = opts.max_in_flight ?? 1;
    this.minParallelBatch = Math.min(opts.min_parallel_batch ?? this.maxBatch, this.maxBatch);
  }

  write(item: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.queued.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (
      this.inFlight < this.maxInFlight &&
      this.queued.length > 0 &&
      (this.inFlight === 0 || this.queued.length >= this.minParallelBatch)
    ) {
      const batch = this.queued.splice(0, this.maxBatch);
      this.inFlight++;
      void this.commit(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async commit(batch: Queued<In, Out>[]): Promise<void> {
    if (batch.length > 1) {
      try {
        const out = await this.opts.many(batch.map((q) => q.item));
        for (const [i, q] of batch.entries()) q.resolve(out[i]!);
        return;
      } catch (err) {
        if (!this.opts.rolledBack(err)) {
          for (const q of batch) q.reject(err);
          return;
        }
        // Nothing of it was written: each one again on its own.
      }
    }
    await Promise.all(batch.map((q) => this.opts.one(q.item).then(q.resolve, q.reject)));
  }
}
