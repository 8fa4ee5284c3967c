import { eq } from 'drizzle-orm';
import { DriverError } from '../drivers/driver.js';
import type { ImageStore } from '../images/store.js';
import type { Db } from '../store/database.js';
import type { Notifier } from '../store/notifier.js';
import { claimNextOperation, releaseLeases, renewLease } from '../store/operation-rows.js';
import { vms } from '../store/schema.js';
import { recordDomainRef } from '../store/vm-rows.js';
import { NO_TELEMETRY, type Telemetry } from '../telemetry.js';
import { deferWithReason } from './defer.js';
import type { Ending } from './finish.js';
import { finishOperation } from './finish.js';
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
 * The queue of a worker inside an API process: operations claimed from PostgreSQL itself
 * (FOR UPDATE SKIP LOCKED), woken by NOTIFY, images read from this process's image store.
 */
export class DatabaseQueue implements OperationQueue {
  readonly owner: string;
  private readonly db: Db;
  private readonly telemetry: Telemetry;

  constructor(private readonly opts: DatabaseQueueOptions) {
    this.owner = opts.owner;
    this.db = opts.db;
    this.telemetry = opts.telemetry ?? NO_TELEMETRY;
  }

  async claim(): Promise<Work | null> {
    for (;;) {
      const claimed = await claimNextOperation(this.db, this.owner, this.opts.host_ids(), this.opts.lease_ms);
      if (!claimed) return null;
      const { op } = claimed;
      if (claimed.taken_over) this.telemetry.leaseTakenOver({ action: op.action });
      const [vm] = await this.db.select().from(vms).where(eq(vms.id, op.vm_id));
      // The VM row cannot go while an operation on it is open; a row gone is a database edited by hand.
      if (vm) return { op, vm };
    }
  }

  renew(op: WorkOperation): Promise<boolean> {
    return renewLease(this.db, op.id, this.owner, this.opts.lease_ms);
  }

  finish(op: WorkOperation, ending: Ending): Promise<boolean> {
    return finishOperation(this.db, op, this.owner, ending, this.telemetry);
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
