import { and, eq, inArray, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import type { StableStatus, VmStatus } from '../domain/status.js';
import type { DomainState, DomainStateChange, HypervisorDriver } from '../drivers/driver.js';
import { appendEvents } from '../services/events.js';
import { setHostStatus } from '../services/hosts.js';
import type { Db } from '../store/database.js';
import { idempotencyKeys, operations, type VmRow, vms } from '../store/schema.js';
import { changeVm, lockVm } from '../store/vm-rows.js';
import { finishOperation } from './finish.js';
import { consoleLogger, type Logger } from './logger.js';
import { observe, statusFromDomain } from './observe.js';

export interface ReconcilerOptions {
  db: Db;
  drivers: Map<string, HypervisorDriver>;
  interval_ms?: number;
  /** How long idempotency keys are remembered. */
  idempotency_ttl_ms?: number;
  logger?: Logger;
}

/** Statuses the reconciler may correct: stable, and backed by a domain. */
const CHECKED: VmStatus[] = ['running', 'paused', 'stopped', 'unknown'];

type Watched = Pick<VmRow, 'id' | 'project_id' | 'status' | 'version' | 'domain_ref'>;

/**
 * Keeps the database honest about the hypervisors: fails operations that outlived their
 * deadline (recording what the host really shows), notices domains that crashed, vanished or
 * changed by themselves, and marks VMs `unknown` while their host cannot be reached.
 */
export class Reconciler {
  private readonly db: Db;
  private readonly drivers: Map<string, HypervisorDriver>;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private unwatch: (() => void)[] = [];
  private pass: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ReconcilerOptions) {
    this.db = opts.db;
    this.drivers = opts.drivers;
    this.log = opts.logger ?? consoleLogger;
  }

  start(): void {
    if (this.timer) return;
    for (const [hostId, driver] of this.drivers) {
      const off = driver.watch?.((change) => {
        void this.onDomainChange(hostId, change).catch((err: unknown) =>
          this.log.warn({ err, host: hostId }, 'reconciling a domain event failed'),
        );
      });
      if (off) this.unwatch.push(off);
    }
    this.timer = setInterval(() => void this.runOnce().catch(() => {}), this.opts.interval_ms ?? 5_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const off of this.unwatch) off();
    this.unwatch = [];
    await this.pass.catch(() => {});
  }

  /** One full pass; passes never overlap. */
  runOnce(): Promise<{ expired: number; drifted: number }> {
    const next = this.pass.catch(() => {}).then(() => this.fullPass());
    this.pass = next;
    return next;
  }

  private async fullPass(): Promise<{ expired: number; drifted: number }> {
    const expired = await this.expireOverdue();
    let drifted = 0;
    for (const [hostId, driver] of this.drivers) drifted += await this.checkHost(hostId, driver);
    const ttl = this.opts.idempotency_ttl_ms ?? 24 * 3600 * 1000;
    await this.db.delete(idempotencyKeys).where(lt(idempotencyKeys.created_at, new Date(Date.now() - ttl)));
    return { expired, drifted };
  }

  /** Operations past their deadline fail, and their VM takes the state the hypervisor shows. */
  async expireOverdue(): Promise<number> {
    const hostIds = [...this.drivers.keys()];
    if (hostIds.length === 0) return 0;
    const overdue = await this.db
      .select({
        id: operations.id,
        action: operations.action,
        deadline_at: operations.deadline_at,
        vm_id: operations.vm_id,
        host_id: operations.host_id,
      })
      .from(operations)
      .where(
        and(
          inArray(operations.status, ['pending', 'running']),
          lt(operations.deadline_at, new Date()),
          inArray(operations.host_id, hostIds),
        ),
      );
    let n = 0;
    for (const op of overdue) {
      const [vm] = await this.db.select({ domain_ref: vms.domain_ref }).from(vms).where(eq(vms.id, op.vm_id));
      const seen = await observe(op.host_id ? this.drivers.get(op.host_id) : undefined, vm?.domain_ref ?? null);
      const shows = seen.state ?? `unreachable (${seen.error ?? 'no domain'})`;
      const ended = await finishOperation(this.db, op, null, {
        result: 'failed',
        error: `deadline exceeded: ${op.action} did not finish by ${op.deadline_at.toISOString()}; the hypervisor shows ${shows}`,
        outcome: { status: seen.status, data: { observed: seen.state, reconciler: true } },
      });
      if (ended) n++;
    }
    return n;
  }

  /** Compares every settled VM on a host with what its hypervisor lists. */
  async checkHost(hostId: string, driver: HypervisorDriver): Promise<number> {
    const settled = and(
      eq(vms.host_id, hostId),
      isNull(vms.deleted_at),
      isNull(vms.current_operation_id),
      isNotNull(vms.domain_ref),
      inArray(vms.status, CHECKED),
    );
    let listed: Map<string, DomainState>;
    // Only VMs that last changed before the hypervisor was asked can be compared with its
    // answer: one created or started meanwhile is not in it yet (it waits for the next pass).
    const askedAt = new Date();
    try {
      const domains = await driver.list({ signal: AbortSignal.timeout(10_000) });
      listed = new Map(domains.map((d) => [d.ref, d.state]));
    } catch (err) {
      return this.hostUnreachable(hostId, settled, err);
    }
    // Also the heartbeat that tells the scheduler this host is served.
    await setHostStatus(this.db, hostId, 'online');
    const rows = await this.db
      .select({ id: vms.id, project_id: vms.project_id, status: vms.status, version: vms.version, domain_ref: vms.domain_ref })
      .from(vms)
      .where(and(settled, lt(vms.updated_at, askedAt)));
    let n = 0;
    for (const vm of rows) {
      const state = listed.get(vm.domain_ref!) ?? 'missing';
      if (await this.applyDrift(vm, statusFromDomain(state), state, 'periodic check')) n++;
    }
    return n;
  }

  private async hostUnreachable(hostId: string, settled: ReturnType<typeof and>, err: unknown): Promise<number> {
    const reason = err instanceof Error ? err.message : String(err);
    this.log.warn({ host: hostId, err: reason }, 'hypervisor unreachable');
    await setHostStatus(this.db, hostId, 'offline', reason);
    const rows = await this.db
      .select({ id: vms.id, project_id: vms.project_id, status: vms.status, version: vms.version, domain_ref: vms.domain_ref })
      .from(vms)
      .where(and(settled, sql`${vms.status} <> 'unknown'`));
    let n = 0;
    for (const vm of rows) if (await this.applyDrift(vm, 'unknown', null, `host unreachable: ${reason}`)) n++;
    return n;
  }

  private async onDomainChange(hostId: string, change: DomainStateChange): Promise<void> {
    const [vm] = await this.db
      .select({
        id: vms.id,
        project_id: vms.project_id,
        status: vms.status,
        version: vms.version,
        domain_ref: vms.domain_ref,
        op: vms.current_operation_id,
      })
      .from(vms)
      .where(and(eq(vms.domain_ref, change.ref), eq(vms.host_id, hostId), isNull(vms.deleted_at)));
    // While an operation runs, what the hypervisor reports is that operation's doing.
    if (!vm || vm.op || !CHECKED.includes(vm.status as VmStatus)) return;
    const status = statusFromDomain(change.state);
    if (status !== vm.status) {
      await this.applyDrift(vm, status, change.state, change.reason);
    } else if (change.event) {
      await appendEvents(this.db, [
        {
          vm_id: vm.id,
          project_id: vm.project_id,
          type: 'vm.hypervisor_event',
          message: change.reason,
          from_status: null,
          to_status: null,
          data: { event: change.event, observed: change.state },
        },
      ]);
    }
  }

  /**
   * Moves a settled VM to what was observed, if nothing touched it since it was read (its
   * version is unchanged and no operation began), and records why.
   */
  private async applyDrift(vm: Watched, status: StableStatus, state: DomainState | null, reason: string): Promise<boolean> {
    if (status === vm.status) return false;
    return this.db.transaction(async (tx) => {
      const now = await lockVm(tx, vm.id);
      if (!now || now.version !== vm.version || now.current_operation_id || now.status !== vm.status) return false;
      const lastError =
        state === 'crashed'
          ? 'the domain crashed'
          : state === 'missing'
            ? 'the domain vanished from its host'
            : status === 'unknown'
              ? reason
              : null;
      await changeVm(tx, vm, { status, last_error: lastError }, { operation_id: null });
      await appendEvents(tx, [
        {
          vm_id: vm.id,
          project_id: vm.project_id,
          type: 'vm.drift',
          message: `hypervisor shows ${state ?? 'nothing'} (${reason}): ${vm.status} -> ${status}`,
          from_status: vm.status as VmStatus,
          to_status: status,
          data: { observed: state, reason },
        },
      ]);
      return true;
    });
  }
}
