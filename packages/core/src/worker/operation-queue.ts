import type { Readable } from 'node:stream';
import type { ArchiveDisk } from '../domain/archive.js';
import type { DiskFile } from '../drivers/driver.js';
import type { OperationRow, VmRow } from '../store/schema.js';
import type { Ending } from './finish.js';

/** An operation as the host that carries it out needs it. */
export type WorkOperation = Pick<OperationRow, 'id' | 'vm_id' | 'project_id' | 'host_id' | 'action' | 'input' | 'attempts' | 'deadline_at'>;

/** A VM as the host that carries out its operation needs it. */
export type WorkVm = Pick<
  VmRow,
  | 'id'
  | 'name'
  | 'status'
  | 'cpu_cores'
  | 'memory_mb'
  | 'disk_gb'
  | 'os_type'
  | 'network'
  | 'vnc_enabled'
  | 'domain_ref'
  | 'image_id'
  | 'iso_image_id'
  | 'gpu_devices'
>;

export interface Work {
  op: WorkOperation;
  vm: WorkVm;
}

/** An image in the host's reach: a file the driver can read. */
export interface LocalImage {
  id: string;
  path: string;
  kind: 'iso' | 'disk';
  format: string;
}

/** What an operation records before it ends: the domain it defined (so a crash orphans nothing). */
export type Checkpoint = { domain_ref: string } & Partial<Pick<VmRow, 'vnc_port' | 'network'>>;

/**
 * Where a worker gets its operations and where it reports them: the database itself for a
 * worker inside an API process (`DatabaseQueue`), the API over HTTP for `hangar agent`. The
 * worker's loop, leases, retries and failure handling are the same either way.
 */
export interface OperationQueue {
  /** Who holds the leases this queue takes (a worker's id). */
  readonly owner: string;
  /** The next operation on one of the queue's hosts, claimed with a lease; null when there is none (after waiting, for a long-poll). */
  claim(signal: AbortSignal): Promise<Work | null>;
  /** Up to `max` operations at once, oldest first (none: an empty list, without waiting); queues that can take many in one round trip. */
  claimMany?(signal: AbortSignal, max: number): Promise<Work[]>;
  /** Extends the lease; false when it was lost (cancelled, taken over). */
  renew(op: WorkOperation): Promise<boolean>;
  /** Ends the operation and moves its VM; false when it was no longer this worker's to end. */
  finish(op: WorkOperation, ending: Ending): Promise<boolean>;
  /** Gives the operation back to be claimed again after `delay_ms`, saying why. */
  defer(op: WorkOperation, delay_ms: number, reason: string): Promise<boolean>;
  /** Gives up every lease this worker holds (shutting down). */
  release(): Promise<void>;
  checkpoint(op: WorkOperation, patch: Checkpoint): Promise<void>;
  /** An image the operation needs, once it is ready and on this host. */
  image(op: WorkOperation, imageId: string, signal: AbortSignal): Promise<LocalImage>;
  /** Sends an export's archive to the API process whose caller waits for it (agents only). */
  sendArchive?(op: WorkOperation, transfer: string, archive: Readable, signal: AbortSignal): Promise<void>;
  /** Fetches an import's disks from the API process holding them, checked against their manifest (agents only). */
  receiveDisks?(op: WorkOperation, transfer: string, disks: ArchiveDisk[], signal: AbortSignal): Promise<DiskFile[]>;
  /** Wakes the worker when work is queued; queues that long-poll need none. */
  onWork?(listener: () => void): () => void;
}
