import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { perform } from '../actions/registry.js';
import { type OperationAction, rule } from '../domain/state-machine.js';
import { DriverError, type HypervisorDriver } from '../drivers/driver.js';
import type { ImageStore } from '../images/store.js';
import { appendEvents } from '../services/events.js';
import type { Db } from '../store/database.js';
import type { Notifier } from '../store/notifier.js';
import { claimNextOperation, deferOperation, releaseLeases, renewLease } from '../store/operation-rows.js';
import { type OperationRow, vms } from '../store/schema.js';
import { ClaimLoop } from './claim-loop.js';
import { retryDelayMs, shouldRetryLater } from './driver-error-policy.js';
import { type Ending, finishOperation } from './finish.js';
import { keepLease } from './lease.js';
import { consoleLogger, type Logger } from './logger.js';
import { observe } from './observe.js';

export interface WorkerOptions {
  db: Db;
  /** Hypervisor drivers by host id: the hosts this worker serves. */
  drivers: Map<string, HypervisorDriver>;
  /** Wakes the worker when work is queued; without it the worker polls. */
  notifier?: Notifier;
  /** The image store VMs are made from. */
  images?: ImageStore;
  id?: string;
  /** Operations run at once. */
  concurrency?: number;
  /** How long a claim holds before another worker may take the operation over. */
  lease_ms?: number;
  /** Fallback poll interval, for notifications lost during a reconnect. */
  poll_ms?: number;
  /** Claims of one operation before it is failed (a takeover is a claim). */
  max_attempts?: number;
  /** First pause before retrying an operation whose host could not be reached (doubling after). */
  retry_base_ms?: number;
  /** Abandon a driver call after this long even if the operation's deadline is later. */
  max_operation_ms?: number;
  logger?: Logger;
}

/**
 * Claims queued operations (FOR UPDATE SKIP LOCKED, with a lease it renews), runs them on the
 * host's driver and ends them with their VM in one transaction. An operation whose lease
 * expires, because its worker died, is claimed again by any worker.
 */
export class Worker {
  readonly id: string;
  private readonly db: Db;
  private readonly drivers: Map<string, HypervisorDriver>;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly maxAttempts: number;
  private readonly log: Logger;
  private readonly loop: ClaimLoop<OperationRow>;

  constructor(private readonly opts: WorkerOptions) {
    this.id = opts.id ?? `worker-${randomUUID().slice(0, 8)}`;
    this.db = opts.db;
    this.drivers = opts.drivers;
    this.concurrency = opts.concurrency ?? 16;
    this.leaseMs = opts.lease_ms ?? 30_000;
    this.pollMs = opts.poll_ms ?? 1_000;
    this.maxAttempts = opts.max_attempts ?? 3;
    this.log = opts.logger ?? consoleLogger;
    this.loop = new ClaimLoop({
      claim: () => this.claim(),
      run: (op, ctl) => this.execute(op, ctl),
      concurrency: this.concurrency,
      poll_ms: this.pollMs,
      notifier: opts.notifier,
      onClaimError: (err) => this.log.error({ err, worker: this.id }, 'claiming operations failed'),
    });
  }

  get inFlight(): number {
    return this.loop.active.size;
  }

  start(): void {
    this.loop.start();
  }

  /**
   * Stops claiming and lets running operations finish for up to `grace_ms`; those still
   * running then are released (lease expired now) so another worker takes them over at once.
   */
  async stop(grace_ms = 10_000): Promise<void> {
    if (!this.loop.isRunning) return;
    await this.loop.stop();
    const active = this.loop.active;
    const all = Promise.all([...active.values()].map((a) => a.done));
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), grace_ms).unref());
    if ((await Promise.race([all, timer])) === 'timeout') {
      for (const a of active.values()) a.ctl.abort(new Abandoned('worker shutting down'));
      await all;
    }
    await releaseLeases(this.db, this.id);
  }

  /** Claims and runs operations until none is left; for tests and scripts. Returns how many ran. */
  async drain(): Promise<number> {
    let n = 0;
    for (;;) {
      const op = await this.claim();
      if (!op) return n;
      n++;
      await this.execute(op);
    }
  }

  /**
   * The oldest claimable operation on one of this worker's hosts (queued, or running with an
   * expired lease), claimed and announced with its started event in one statement.
   */
  claim(): Promise<OperationRow | null> {
    return claimNextOperation(this.db, this.id, [...this.drivers.keys()], this.leaseMs);
  }

  private async execute(op: OperationRow, ctl = new AbortController()): Promise<void> {
    const deadlineMs = Math.min(op.deadline_at.getTime() - Date.now(), this.opts.max_operation_ms ?? Infinity);
    const deadline = setTimeout(() => ctl.abort(new Error(`deadline exceeded (${op.deadline_at.toISOString()})`)), Math.max(0, deadlineMs));
    // Abandoned (lease lost, worker stopping): leave the operation for whoever claims it next.
    const abandoned = () => ctl.signal.reason instanceof Abandoned;
    const stopRenewing = keepLease({
      lease_ms: this.leaseMs,
      min_interval_ms: 50,
      renew: () => renewLease(this.db, op.id, this.id, this.leaseMs),
      onLost: () => ctl.abort(new Abandoned('lease lost')),
      onError: (err) => this.log.warn({ err, operation: op.id }, 'lease renewal failed'),
    });
    let definedRef: string | null = null;
    const driver = op.host_id ? this.drivers.get(op.host_id) : undefined;
    try {
      const [vm] = await this.db.select().from(vms).where(eq(vms.id, op.vm_id));
      if (!vm) return;
      let ending: Ending;
      if (op.attempts > this.maxAttempts) {
        ending = await this.failure(op, vm.domain_ref, driver, `gave up after ${this.maxAttempts} attempts`);
      } else if (!driver) {
        ending = await this.failure(op, vm.domain_ref, driver, 'no driver for this host');
      } else {
        try {
          const outcome = await perform({
            db: this.db,
            op,
            vm,
            driver,
            images: this.opts.images,
            signal: ctl.signal,
            defined: (ref) => (definedRef = ref),
          });
          ending = { result: 'succeeded', outcome };
        } catch (err) {
          if (abandoned()) return;
          if (!ctl.signal.aborted && shouldRetryLater(err) && op.attempts < this.maxAttempts) {
            await this.retryLater(op, describe(err));
            return;
          }
          const reason = ctl.signal.aborted ? describe(ctl.signal.reason) : describe(err);
          ending = await this.failure(op, vm.domain_ref ?? definedRef, driver, reason);
        }
      }
      if (abandoned()) return;
      const ended = await finishOperation(this.db, op, this.id, ending);
      if (!ended && op.action === 'create' && definedRef && driver) {
        // Cancelled while defining: nobody else knows this domain, so remove it.
        await driver.undefine(definedRef, { delete_disks: true }).catch(() => {});
      }
    } catch (err) {
      this.log.error({ err, operation: op.id }, 'operation could not be ended; its lease will expire and it will be retried');
    } finally {
      clearTimeout(deadline);
      stopRenewing();
    }
  }

  /**
   * Leaves the operation claimed by nobody until a pause has passed (its lease then expires and
   * any worker claims it again, as after a takeover), and says so in its events.
   */
  private async retryLater(op: OperationRow, reason: string): Promise<void> {
    const delay = retryDelayMs(op.attempts, this.opts.retry_base_ms);
    await this.db.transaction(async (tx) => {
      if (!(await deferOperation(tx, op.id, this.id, new Date(Date.now() + delay)))) return;
      await appendEvents(tx, [
        {
          vm_id: op.vm_id,
          project_id: op.project_id,
          operation_id: op.id,
          type: 'operation.retrying',
          message: `${op.action} will be tried again in ${Math.round(delay / 100) / 10} s: ${reason}`,
          data: { attempt: op.attempts, delay_ms: delay, reason },
        },
      ]);
    });
  }

  private async failure(op: OperationRow, ref: string | null, driver: HypervisorDriver | undefined, error: string): Promise<Ending> {
    const onFailure = rule(op.action as OperationAction).onFailure;
    if (onFailure === 'observed') {
      const seen = await observe(driver, ref);
      return { result: 'failed', error, outcome: { status: seen.status, data: { observed: seen.state } } };
    }
    return { result: 'failed', error, outcome: { status: onFailure === 'same' ? 'error' : onFailure } };
  }
}

class Abandoned extends Error {}

function describe(err: unknown): string {
  if (err instanceof DriverError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
