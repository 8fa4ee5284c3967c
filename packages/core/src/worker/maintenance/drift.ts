import { and, eq, inArray, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import type { StableStatus, VmStatus } from '../../domain/status.js';
import type { DomainInfo, DomainState, DomainStateChange, HypervisorDriver } from '../../drivers/driver.js';
import { appendEvents } from '../../services/events.js';
import { markOnline, refreshInventory, setHostStatus } from '../../services/hosts.js';
import type { Db } from '../../store/database.js';
import { type VmRow, vms } from '../../store/schema.js';
import { changeVm, lockVm } from '../../store/vm-rows.js';
import { NO_TELEMETRY, type Telemetry } from '../../telemetry.js';
import type { Logger } from '../logger.js';
import { statusFromDomain } from '../observe.js';

/** Statuses the reconciler may correct: stable, and backed by a domain. */
const CHECKED: VmStatus[] = ['running', 'paused', 'stopped', 'unknown'];

type Watched = Pick<VmRow, 'id' | 'project_id' | 'status' | 'version' | 'domain_ref'>;

/** A host's VMs the reconciler may correct: settled (no operation), backed by a domain, in a stable status it checks. */
const settledOn = (hostId: string) =>
  and(
    eq(vms.host_id, hostId),
    isNull(vms.deleted_at),
    isNull(vms.current_operation_id),
    isNotNull(vms.domain_ref),
    inArray(vms.status, CHECKED),
  );

/**
 * The VMs a domain's events may be about: found by the domain alone, the one index that finds
 * them; the caller checks the rest (host, deleted, changed since). With those conditions in the
 * statement, a planner working from statistics older than the table's growth (every table after
 * a burst of creates, until it is analysed again) read every live VM's entry of the partial name
 * index to apply `deleted_at IS NULL`: 8,117 entries for each event in the worker's bench (its
 * costliest statement), a million at a million VMs.
 */
export function vmsOfDomain(db: Db, ref: string) {
  return db
    .select({
      id: vms.id,
      project_id: vms.project_id,
      host_id: vms.host_id,
      status: vms.status,
      version: vms.version,
      domain_ref: vms.domain_ref,
      op: vms.current_operation_id,
      deleted_at: vms.deleted_at,
      updated_at: vms.updated_at,
    })
    .from(vms)
    .where(eq(vms.domain_ref, ref));
}

/** What a host's hypervisor listed at `asked_at`; `domains` null when it could not be listed (`unavailable` says why). */
export interface HostListing {
  asked_at: Date;
  domains: Pick<DomainInfo, 'ref' | 'state'>[] | null;
  unavailable: string | null;
}

/**
 * Drift and heartbeat: compares settled VMs with what their host's hypervisor lists (and hears
 * its events), corrects what changed by itself (crashed, vanished, powered off by the guest),
 * marks VMs `unknown` while their host cannot be reached, and tells the scheduler the host is
 * served.
 */
/** How long an unchanged inventory goes unwritten at most (local hosts) or unsent (agents). */
export const INVENTORY_REFRESH_MS = 5 * 60_000;

export class DriftWatch {
  /** Each local host's inventory as last written (JSON). */
  private readonly inventories = new Map<string, { json: string; at: number }>();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly telemetry: Telemetry = NO_TELEMETRY,
  ) {}

  /** Compares every settled VM on a host with what its hypervisor lists. */
  async checkHost(hostId: string, driver: HypervisorDriver): Promise<number> {
    // Only VMs that last changed before the hypervisor was asked can be compared with its
    // answer: one created or started meanwhile is not in it yet (it waits for the next pass).
    const askedAt = new Date();
    let report: HostListing;
    try {
      const domains = await driver.list({ signal: AbortSignal.timeout(10_000) });
      report = { asked_at: askedAt, domains, unavailable: null };
    } catch (err) {
      report = { asked_at: askedAt, domains: null, unavailable: err instanceof Error ? err.message : String(err) };
    }
    const { drifted, inventory_wanted } = await this.applyListing(hostId, report);
    // What the host has is read every pass (a GPU failing its checks, a device rebound) and
    // written when it changed, when the host is back from offline (it may have been unknown),
    // and every few minutes regardless (a GPU a launch marked unhealthy is healthy again by
    // the host's word even if nothing changed).
    if (report.domains) {
      const inventory = await driver.inventory({ signal: AbortSignal.timeout(10_000) });
      const now = JSON.stringify(inventory);
      const last = this.inventories.get(hostId);
      if (inventory_wanted || last?.json !== now || Date.now() - last.at > INVENTORY_REFRESH_MS) {
        await refreshInventory(this.db, hostId, inventory);
        this.inventories.set(hostId, { json: now, at: Date.now() });
      }
    }
    return drifted;
  }

  /**
   * A host's heartbeat: what its hypervisor listed (or why it could not be listed). Settled VMs
   * move to what was listed; all of them go `unknown` while the hypervisor cannot be reached.
   * `inventory_wanted`: the host was offline, so what it has should be read again.
   */
  async applyListing(hostId: string, report: HostListing): Promise<{ drifted: number; inventory_wanted: boolean }> {
    const settled = settledOn(hostId);
    if (!report.domains) {
      return {
        drifted: await this.hostUnreachable(hostId, settled, report.unavailable ?? 'the hypervisor did not answer'),
        inventory_wanted: false,
      };
    }
    const listed = new Map(report.domains.map((d) => [d.ref, d.state]));
    // Also the heartbeat that tells the scheduler this host is served.
    const wasOffline = (await markOnline(this.db, hostId)) === 'offline';
    const rows = await this.db
      .select({ id: vms.id, project_id: vms.project_id, status: vms.status, version: vms.version, domain_ref: vms.domain_ref })
      .from(vms)
      .where(and(settled, lt(vms.updated_at, report.asked_at)));
    let n = 0;
    for (const vm of rows) {
      const state = listed.get(vm.domain_ref!) ?? 'missing';
      if (await this.applyDrift(vm, statusFromDomain(state), state, 'periodic check')) n++;
    }
    return { drifted: n, inventory_wanted: wasOffline };
  }

  /** A host nothing has been heard from: its settled VMs go `unknown` (they may still run), with the reason. */
  async hostLost(hostId: string, reason: string): Promise<number> {
    const settled = settledOn(hostId);
    return this.hostUnreachable(hostId, settled, reason);
  }

  private async hostUnreachable(hostId: string, settled: ReturnType<typeof and>, reason: string): Promise<number> {
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

  /**
   * A change the hypervisor reported by itself, heard at `observed_at`. A VM changed since then
   * is left alone: what was heard was the doing of the operation that changed it (a guest
   * reboot's power-off, heard while the restart ran but handled after it ended), and the next
   * periodic pass compares it with the hypervisor anew.
   */
  async onDomainChange(hostId: string, change: DomainStateChange, observed_at: Date): Promise<void> {
    const vm = (await vmsOfDomain(this.db, change.ref)).find(
      (v) => v.host_id === hostId && v.deleted_at === null && v.updated_at < observed_at,
    );
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
    const moved = await this.db.transaction(async (tx) => {
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
    if (moved) this.telemetry.driftCorrected({ from: vm.status as VmStatus, to: status });
    return moved;
  }
}
