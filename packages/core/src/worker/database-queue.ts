import { DriverError } from '../drivers/driver.js';
import type { ImageStore } from '../images/store.js';
import { type Db, sqlState } from '../store/database.js';
import { GroupCommit } from '../store/group-commit.js';
import type { Notifier } from '../store/notifier.js';
import { claimOperations, releaseLeases, renewLease } from '../store/operation-rows.js';
import { recordDomainRef } from '../store/vm-rows.js';
import { NO_TELEMETRY, type Telemetry } from '../telemetry.js';
import { deferWithReason } from './defer.js';
import type { Ending, Finish } from './finish.js';
import { finishOperation, finishOperations } from './finish.js';
import { readyImage } from './media.js';
import type { Checkpoint, LocalImage, OperationQueue, Work, WorkOperation } from './operation-queue.js';

export interface DatabaseQueueOptions {
  db: Db;
  /** Who holds the leases (the worker's id). */
  owner: string;
  /** The hosts whose operations are claimed (read at each claim: a worker's hosts may change). */
  host_ids: () => string[];
  lease_ms: number;
  notifier?: Notifier;
  /** The image store VMs are made from (this process's). */
  images?: ImageStore;
  /** Told of takeovers and endings. */
  telemetry?: Telemetry;
}

/**
 * Group commits of endings open at once: up to four, each beyond the first for 16 endings or
 * more. Batches take their locks in one order (they cannot deadlock), so while one is committed
 * the next is built and sent (`pnpm --filter @hangar/server bench:worker`: about 1,900 ops/s
 * with one, 2,050 with four: rounds of 400 starts).
 */
const ENDINGS_IN_FLIGHT = { max_in_flight: 4, min_parallel_batch: 16 };

/**
 * The queue of a worker inside an API process: operations claimed from PostgreSQL itself
 * (FOR UPDATE SKIP LOCKED), woken by NOTIFY, images read from this process's image store.
 */
export class DatabaseQueue implements OperationQueue {
  readonly owner: string;
  private readonly db: Db;
  private readonly telemetry: Telemetry;
  /** Group commit of the worker's endings. */
  private readonly endings: GroupCommit<Finish, boolean>;

  constructor(private readonly opts: DatabaseQueueOptions) {
    this.owner = opts.owner;
    this.db = opts.db;
    this.telemetry = opts.telemetry ?? NO_TELEMETRY;
    this.endings = new GroupCommit<Finish, boolean>({
      many: (finishes) => finishOperations(this.db, finishes, this.telemetry),
      one: (f) => finishOperation(this.db, f.which, f.owner, f.ending, this.telemetry),
      // PostgreSQL's own error: the transaction was rolled back.
      rolledBack: (err) => sqlState(err) !== undefined,
      ...ENDINGS_IN_FLIGHT,
    });
  }

  async claim(): Promise<Work | null> {
    return (await this.claimMany(new AbortController().signal, 1))[0] ?? null;
  }

  async claimMany(_signal: AbortSignal, max: number): Promise<Work[]> {
    const claimed = await claimOperations(this.db, this.owner, this.opts.host_ids(), this.opts.lease_ms, max);
    const work: Work[] = [];
    for (const c of claimed) {
      if (c.taken_over) this.telemetry.leaseTakenOver({ action: c.op.action });
      // The VM row cannot go while an operation on it is open; a row gone is a database edited
      // by hand: that operation stays claimed until its lease runs out, as before.
      if (c.vm) work.push({ op: c.op, vm: c.vm });
    }
    return work;
  }

  renew(op: WorkOperation): Promise<boolean> {
    return renewLease(this.db, op.id, this.owner, this.opts.lease_ms);
  }

  /** Ends it in a group commit with the other endings of the moment. */
  finish(op: WorkOperation, ending: Ending): Promise<boolean> {
    return this.endings.write({ which: { id: op.id, vm_id: op.vm_id }, owner: this.owner, ending });
  }

  defer(op: WorkOperation, delay_ms: number, reason: string): Promise<boolean> {
    return deferWithReason(this.db, op, this.owner, delay_ms, reason);
  }

  release(): Promise<void> {
    return releaseLeases(this.db, this.owner);
  }

  checkpoint(op: WorkOperation, patch: Checkpoint): Promise<void> {
    return recordDomainRef(this.db, op.vm_id, op.id, patch);
  }

  async image(_op: WorkOperation, imageId: string, signal: AbortSignal): Promise<LocalImage> {
    const store = this.opts.images;
    if (!store) throw new DriverError('unavailable', 'this worker has no image store');
    const row = await readyImage(this.db, imageId, signal);
    return { id: row.id, path: store.pathOf(row.id), kind: row.kind as LocalImage['kind'], format: row.format ?? 'raw' };
  }

  onWork(listener: () => void): () => void {
    return this.opts.notifier?.onWork(listener) ?? (() => {});
  }
}
