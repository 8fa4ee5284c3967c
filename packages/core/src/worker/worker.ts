import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PerformContext } from '../actions/action.js';
import { perform } from '../actions/registry.js';
import { type OperationAction, rule } from '../domain/state-machine.js';
import { DriverError, GpuPreflightError, type HypervisorDriver } from '../drivers/driver.js';
import type { ImageStore } from '../images/store.js';
import type { Db } from '../store/database.js';
import { sqlState } from '../store/database.js';
import type { Notifier } from '../store/notifier.js';
import type { OperationRow } from '../store/schema.js';
import type { Telemetry } from '../telemetry.js';
import { ClaimLoop } from './claim-loop.js';
import { DatabaseQueue } from './database-queue.js';
import { DomainsInHand } from './domains-in-hand.js';
import { retryDelayMs, shouldRetryLater } from './driver-error-policy.js';
import type { Ending } from './finish.js';
import { keepLease } from './lease.js';
import { consoleLogger, type Logger } from './logger.js';
import { observe } from './observe.js';
import type { OperationQueue, Work, WorkOperation } from './operation-queue.js';
import { unavailable } from './unavailable.js';

export interface WorkerOptions {
  /** Hypervisor drivers by host id: the hosts this worker serves. */
  drivers: Map<string, HypervisorDriver>;
  /** Where operations come from and are reported: by default the database itself (`db` is then required). */
  queue?: (owner: string) => OperationQueue;
  db?: Db;
  /** Wakes a database worker when work is queued; without it the worker polls. */
  notifier?: Notifier;
  /** The image store VMs are made from (a database worker's). */
  images?: ImageStore;
  id?: string;
  /** Operations run at once. */
  concurrency?: number;
  /** How long a claim holds before another worker may take the operation over. */
  lease_ms?: number;
  /** Fallback poll interval, for notifications lost during a reconnect (0 for a queue that long-polls). */
  poll_ms?: number;
  /** Claims of one operation before it is failed (a takeover is a claim). */
  max_attempts?: number;
  /** First pause before retrying an operation whose host could not be reached (doubling after). */
  retry_base_ms?: number;
  /** Abandon a driver call after this long even if the operation's deadline is later. */
  max_operation_ms?: number;
  logger?: Logger;
  /** Told of takeovers and endings (a database worker's; an agent's are told by the API). */
  telemetry?: Telemetry;
}

/**
 * Claims queued operations (with a lease it renews), runs them on the host's driver and ends
 * them with their VM. An operation whose lease expires, because its worker died, is claimed
 * again by any worker. The same loop runs inside an API process (its queue is the database)
 * and in `hangar agent` (its queue is the API).
 */
export class Worker {
  readonly id: string;
  readonly queue: OperationQueue;
  /** The domains its operations are acting on at their hosts (what the hypervisor says of them meanwhile is their doing). */
  readonly inHand = new DomainsInHand();
  private readonly drivers: Map<string, HypervisorDriver>;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly maxAttempts: number;
  private readonly log: Logger;
  private readonly loop: ClaimLoop<Work & { id: string }>;

  constructor(private readonly opts: WorkerOptions) {
    this.id = opts.id ?? `worker-${randomUUID().slice(0, 8)}`;
    this.drivers = opts.drivers;
    this.concurrency = opts.concurrency ?? 16;
    this.leaseMs = opts.lease_ms ?? 30_000;
    this.pollMs = opts.poll_ms ?? 1_000;
    this.maxAttempts = opts.max_attempts ?? 3;
    this.log = opts.logger ?? consoleLogger;
    this.queue = opts.queue
      ? opts.queue(this.id)
      : new DatabaseQueue({
          db: required(opts.db),
          owner: this.id,
          host_ids: () => [...this.drivers.keys()],
          lease_ms: this.leaseMs,
          notifier: opts.notifier,
          images: opts.images,
          telemetry: opts.telemetry,
        });
    this.loop = new ClaimLoop({
      claim: (signal, max) => this.claimWorks(signal, max),
      run: (work, ctl, free) => this.execute(work, ctl, free),
      concurrency: this.concurrency,
      poll_ms: this.pollMs,
      onWork: this.queue.onWork ? (l) => this.queue.onWork!(l) : undefined,
      onClaimError: (err) => this.log.error({ err, worker: this.id }, 'claiming operations failed'),
    });
  }

  /** Operations at their host's part now (each holds one of `concurrency` slots; those whose ending is being written hold none). */
  get inFlight(): number {
    return this.loop.busySlots;
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
    await this.queue.release();
  }

  /** Claims and runs operations until none is left; for tests and scripts. Returns how many ran. */
  async drain(): Promise<number> {
    let n = 0;
    for (;;) {
      const work = await this.claimWork(AbortSignal.timeout(0));
      if (!work) return n;
      n++;
      await this.execute(work);
    }
  }

  /** The oldest claimable operation on one of this worker's hosts, claimed with a lease. */
  async claim(): Promise<OperationRow | WorkOperation | null> {
    return (await this.claimWork(AbortSignal.timeout(0)))?.op ?? null;
  }

  private async claimWork(signal: AbortSignal): Promise<(Work & { id: string }) | null> {
    const work = await this.queue.claim(signal);
    return work ? { ...work, id: work.op.id } : null;
  }

  private async claimWorks(signal: AbortSignal, max: number): Promise<(Work & { id: string })[]> {
    if (!this.queue.claimMany) {
      const one = await this.claimWork(signal);
      return one ? [one] : [];
    }
    return (await this.queue.claimMany(signal, max)).map((w) => ({ ...w, id: w.op.id }));
  }

  private async execute({ op, vm }: Work, ctl = new AbortController(), free: () => void = () => {}): Promise<void> {
    const deadlineMs = Math.min(op.deadline_at.getTime() - Date.now(), this.opts.max_operation_ms ?? Infinity);
    const deadline = setTimeout(() => ctl.abort(new Error(`deadline exceeded (${op.deadline_at.toISOString()})`)), Math.max(0, deadlineMs));
    // Abandoned (lease lost, worker stopping): leave the operation for whoever claims it next.
    const abandoned = () => ctl.signal.reason instanceof Abandoned;
    const stopRenewing = keepLease({
      lease_ms: this.leaseMs,
      min_interval_ms: 50,
      renew: () => this.queue.renew(op),
      onLost: () => ctl.abort(new Abandoned('lease lost')),
      onError: (err) => this.log.warn({ err, operation: op.id }, 'lease renewal failed'),
    });
    let definedRef: string | null = null;
    const driver = op.host_id ? this.drivers.get(op.host_id) : undefined;
    // Its domains are in hand while the host's part runs, and no longer: once it was aborted
    // (deadline, lease lost, stopping) or is done, what the hypervisor says goes to the
    // reconciler's own check (the VM's running operation until the ending commits, its change
    // after that), as for any domain.
    const releases: (() => void)[] = [];
    let letGo = false;
    const hold = (ref: string | null) => {
      if (ref && op.host_id && !letGo) releases.push(this.inHand.hold(op.host_id, ref));
    };
    const letGoOfDomains = () => {
      letGo = true;
      for (const release of releases.splice(0)) release();
    };
    ctl.signal.addEventListener('abort', letGoOfDomains, { once: true });
    hold(vm.domain_ref);
    if (ctl.signal.aborted) letGoOfDomains();
    try {
      let ending: Ending;
      if (op.attempts > this.maxAttempts) {
        ending = await this.failure(op, vm.domain_ref, driver, `gave up after ${this.maxAttempts} attempts`);
      } else if (!driver) {
        ending = await this.failure(op, vm.domain_ref, driver, 'no driver for this host');
      } else {
        try {
          const outcome = await perform({
            op,
            vm,
            driver,
            signal: ctl.signal,
            image: (id) => this.queue.image(op, id, ctl.signal),
            // Idempotent: written again once the database is back (a restart does not fail the step).
            checkpoint: async (patch) => {
              await this.whileUnreachable(
                () => this.queue.checkpoint(op, patch),
                () => ctl.signal.aborted,
              );
            },
            defined: (ref) => {
              definedRef = ref;
              hold(ref);
            },
            transfers: this.transfers(op, ctl.signal),
          });
          ending = { result: 'succeeded', outcome };
        } catch (err) {
          if (abandoned()) return;
          if (!ctl.signal.aborted && shouldRetryLater(err) && op.attempts < this.maxAttempts) {
            await this.queue.defer(op, retryDelayMs(op.attempts, this.opts.retry_base_ms), describe(err));
            return;
          }
          if (!ctl.signal.aborted && unavailable(err)) {
            // The database (or, for an agent, the API) went away mid-operation (a checkpoint): the
            // operation is not the host's failure. It is given back to be tried again; if even that
            // cannot be said, its lease runs out and it is taken over, as after a crash.
            this.log.warn({ err, operation: op.id }, 'the database is out of reach mid-operation: trying it again later');
            await this.whileUnreachable(
              () => this.queue.defer(op, retryDelayMs(op.attempts, this.opts.retry_base_ms), 'the database was out of reach'),
              abandoned,
            ).catch(() => {});
            return;
          }
          if (!(err instanceof DriverError)) this.log.error({ err, operation: op.id }, 'the operation failed with an error of the worker');
          const reason = ctl.signal.aborted ? describe(ctl.signal.reason) : describe(err);
          ending = await this.failure(op, vm.domain_ref ?? definedRef, driver, reason);
          // GPUs the launch found unusable are named, so they are marked unhealthy with the ending.
          if (err instanceof GpuPreflightError) ending.outcome.data = { ...ending.outcome.data, gpu_faults: err.faults };
        }
      }
      if (abandoned()) return;
      // The host's part is done: its slot goes to the next operation while this one's ending is written.
      free();
      letGoOfDomains();
      const ended = await this.finishOnceReachable(op, ending, ctl.signal);
      if (ended === false && op.action === 'create' && definedRef && driver) {
        // Cancelled while defining: nobody else knows this domain, so remove it.
        await driver.undefine(definedRef, { delete_disks: true }).catch(() => {});
      }
    } catch (err) {
      this.log.error({ err, operation: op.id }, 'operation could not be ended; its lease will expire and it will be retried');
    } finally {
      clearTimeout(deadline);
      stopRenewing();
      ctl.signal.removeEventListener('abort', letGoOfDomains);
      letGoOfDomains();
    }
  }

  /**
   * Ends the operation, trying again while the database cannot be reached (`whileUnreachable`):
   * an ending lost to a PostgreSQL restart is written once the database is back, not a lease
   * later by whoever takes the operation over. Trying again is safe: an operation that has ended
   * is not ended again. But a try that failed may have committed (the answer to its COMMIT
   * lost), so "not ended" after such a try is `unknown`.
   */
  private async finishOnceReachable(op: WorkOperation, ending: Ending, signal: AbortSignal): Promise<boolean | 'unknown'> {
    const { value: ended, retried } = await this.whileUnreachable(
      () => this.queue.finish(op, ending),
      () => signal.aborted && signal.reason instanceof Abandoned,
    );
    return ended || !retried ? ended : 'unknown';
  }

  /**
   * Runs one of the worker's writes; while the database cannot be reached, tries it again (the
   * lease is renewed meanwhile, and renewed again once it is back) for up to a lease's length,
   * until `stop` says to give up. Its answer, and whether a try failed first.
   */
  private async whileUnreachable<T>(write: () => Promise<T>, stop: () => boolean): Promise<{ value: T; retried: boolean }> {
    const until = Date.now() + this.leaseMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return { value: await write(), retried: attempt > 0 };
      } catch (err) {
        if (!unavailable(err) || stop() || Date.now() >= until) throw err;
        await sleep(Math.min(50 * 2 ** attempt, 1_000));
      }
    }
  }

  private transfers(op: WorkOperation, signal: AbortSignal): PerformContext['transfers'] {
    const q = this.queue;
    if (!q.sendArchive || !q.receiveDisks) return undefined;
    return {
      send: (transfer, archive) => q.sendArchive!(op, transfer, archive, signal),
      receive: (transfer, disks) => q.receiveDisks!(op, transfer, disks, signal),
    };
  }

  private async failure(op: WorkOperation, ref: string | null, driver: HypervisorDriver | undefined, error: string): Promise<Ending> {
    const onFailure = rule(op.action as OperationAction).onFailure;
    if (onFailure === 'observed') {
      const seen = await observe(driver, ref);
      return { result: 'failed', error, outcome: { status: seen.status, data: { observed: seen.state } } };
    }
    return { result: 'failed', error, outcome: { status: onFailure === 'same' ? 'error' : onFailure } };
  }
}

class Abandoned extends Error {}

function required<T>(v: T | undefined): T {
  if (v === undefined) throw new Error('a worker without a queue needs the database (db)');
  return v;
}

function describe(err: unknown): string {
  if (err instanceof DriverError) return err.message;
  // A failed query's message carries its SQL and parameters: the worker's log has them, the VM's owner gets a sentence.
  if (sqlState(err) !== undefined || (err instanceof Error && err.message.startsWith('Failed query'))) {
    return 'an internal error in the worker (the server log has it)';
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
