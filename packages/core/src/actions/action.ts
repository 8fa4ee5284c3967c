import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { ArchiveDisk } from '../domain/archive.js';
import type { StableStatus } from '../domain/status.js';
import type { DiskFile, HypervisorDriver } from '../drivers/driver.js';
import type { VmRow } from '../store/schema.js';
import type { Checkpoint, LocalImage, WorkOperation, WorkVm } from '../worker/operation-queue.js';

/** What an operation did: the status the VM reaches and the fields that changed with it. */
export interface Outcome {
  status: StableStatus;
  vm?: Partial<
    Pick<
      VmRow,
      | 'domain_ref'
      | 'vnc_port'
      | 'network'
      | 'cpu_cores'
      | 'memory_mb'
      | 'disk_gb'
      | 'vnc_enabled'
      | 'deleted_at'
      | 'iso_image_id'
      | 'gpu_count'
      | 'gpu_model'
      | 'gpu_vendor'
    >
  >;
  data?: Record<string, unknown>;
  message?: string;
}

/** What a worker hands an action's handler: nothing of the database, so it runs the same in an agent. */
export interface PerformContext {
  op: WorkOperation;
  vm: WorkVm;
  driver: HypervisorDriver;
  signal: AbortSignal;
  /** An image the operation needs (a VM's disk image or ISO), once it is ready and on this host. */
  image(id: string): Promise<LocalImage>;
  /** Records the domain the operation defined before the operation ends, so a crash orphans nothing. */
  checkpoint(patch: Checkpoint): Promise<void>;
  /** Called with a domain the operation defined, so it can be cleaned up if the operation was cancelled meanwhile. */
  defined(ref: string): void;
  /** An agent's exchange of archives with the API process a caller is connected to (exports, imports). */
  transfers?: {
    send(transfer: string, archive: Readable): Promise<void>;
    receive(transfer: string, disks: ArchiveDisk[]): Promise<DiskFile[]>;
  };
}

/** What a request for an action turns into: the operation's input, and how it begins. */
export interface ActionPlan {
  input?: Record<string, unknown>;
  /** Begin from the action's forced sources too (delete while an operation runs). */
  force?: boolean;
  /** Seconds added to the action's deadline (a stop's grace period). */
  extra_deadline_s?: number;
}

/**
 * An action callers request by name on an existing VM (start, stop, …): what it takes, what
 * that turns into, and where the API offers it. The API's procedure, its REST route and the
 * service method are all made from this.
 */
export interface Requestable<S extends z.ZodObject = z.ZodObject> {
  /** The options beyond the VM id; they extend the options every mutation takes. */
  options: S;
  plan(opts: z.output<S>): ActionPlan;
  /** Its route under the API base: DELETE for delete, POST for the rest. */
  api: { method: 'POST' | 'DELETE'; path: `/vms/{id}${string}`; summary: string };
}

/**
 * One VM action: the state table's row for it is `STATE_MACHINE[name]`; this holds the rest.
 * `perform` carries its operation out on the hypervisor; every step must be safe to repeat
 * after a takeover. Actions with `request` are offered by the generic API; the others (create,
 * update_hardware, export) have services of their own.
 */
export interface ActionDefinition<S extends z.ZodObject = z.ZodObject> {
  /** The action in a sentence's words: "Cannot {verb} VM …". */
  verb: string;
  perform(ctx: PerformContext): Promise<Outcome>;
  /**
   * What a successful operation makes of the VM from what was asked, whatever the hypervisor
   * says (the hardware asked for, deletion). `perform` returns it, and the API takes it from here,
   * not from an agent's report.
   */
  asked?(op: Pick<WorkOperation, 'input'>): NonNullable<Outcome['vm']>;
  request?: Requestable<S>;
}

/** Keeps an action's option schema type (so its service method and procedure are typed by it). */
export function defineAction<S extends z.ZodObject>(def: {
  verb: string;
  perform: ActionDefinition['perform'];
  asked?: ActionDefinition['asked'];
  request: Requestable<S>;
}) {
  return def;
}
