import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { and, eq, isNull } from 'drizzle-orm';
import { ARCHIVE_FORMAT, ARCHIVE_VERSION, type ArchiveManifest } from '../../domain/archive.js';
import { errors, HangarError } from '../../domain/errors.js';
import { VmName } from '../../domain/fields.js';
import type { Operation } from '../../domain/operation.js';
import type { Scope } from '../../domain/project.js';
import { rule } from '../../domain/state-machine.js';
import type { Vm } from '../../domain/vm.js';
import { type ArchiveCapability, can, type DiskFile, type DomainSpec, DriverError, type HypervisorDriver } from '../../drivers/driver.js';
import { privateDir } from '../../files/private.js';
import { reserve } from '../../scheduler/reserve.js';
import type { Db } from '../../store/database.js';
import { toVm } from '../../store/mappers.js';
import { type Notifier, notifyChange, notifyWork } from '../../store/notifier.js';
import { insertOperation, renewLease } from '../../store/operation-rows.js';
import { operations, type VmRow, vms } from '../../store/schema.js';
import { insertVm, vmPlacement } from '../../store/vm-rows.js';
import type { Telemetry } from '../../telemetry.js';
import { finishOperation } from '../../worker/finish.js';
import { keepLease } from '../../worker/lease.js';
import { consoleLogger, type Logger } from '../../worker/logger.js';
import { beginAction, conflictError, inFlightOperation } from '../begin-action.js';
import { appendEvents } from '../events.js';
import { isUniqueViolation } from '../pg-errors.js';
import { enforceQuota } from '../quotas.js';
import { parse, parseId } from '../validate.js';
import { requireVm } from '../vm-queries.js';
import type { ArchiveRelay } from './relay.js';

// The archive modules (tar) are imported by the first export or import, not at start: most
// servers never load them, and they cost several MB of memory.
const exportStream = () => import('./export-stream.js');
const importStream = () => import('./import-stream.js');

export interface VmArchivesOptions {
  db: Db;
  /** The hosts whose disks this process can read: exports and imports happen here. */
  drivers: Map<string, HypervisorDriver>;
  /** Where an import's disks wait while they are checked. */
  importDir: string;
  /** The most bytes an import may expand to. */
  max_import_bytes?: number;
  lease_ms?: number;
  logger?: Logger;
  /** For VMs on agents' hosts: how archives reach the agent and come back from it. */
  relay?: ArchiveRelay;
  /** Wakes an import waiting for its agent (needed with `relay`). */
  notifier?: Notifier;
  /** How long an export waits for the host's agent to begin sending. */
  agent_wait_ms?: number;
  /** Told of exports that end (they are operations). */
  telemetry?: Telemetry;
}

export interface VmExport {
  vm: Vm;
  operation: Operation;
  /** The archive; reading it to the end ends the export, dropping it returns the VM to `stopped`. */
  stream: Readable;
  filename: string;
  content_type: string;
}

/** What an archive's manifest says of the VM it holds. */
function manifestVmOf(vm: VmRow): ArchiveManifest['vm'] {
  return {
    name: vm.name,
    cpu_cores: vm.cpu_cores,
    memory_mb: vm.memory_mb,
    disk_gb: vm.disk_gb,
    os_type: vm.os_type as ArchiveManifest['vm']['os_type'],
    os_version: vm.os_version,
    labels: vm.labels,
    network: { type: vm.network.type, bridge_name: vm.network.bridge_name },
    vnc_enabled: vm.vnc_enabled,
  };
}

function driverFailure(err: unknown, what: string): HangarError {
  if (err instanceof HangarError) return err;
  if (err instanceof DriverError && err.kind === 'unavailable') return errors.hostUnavailable(`${what}: ${err.message}`);
  return errors.internal(`${what}: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * Export and import of VMs as tar streams. An export is an `export` operation this process
 * runs itself while the client reads (the VM is `exporting` until the stream ends); an import
 * is checked entirely before anything is created.
 */
export class VmArchives {
  private readonly db: Db;
  private readonly leaseMs: number;
  private readonly log: Logger;

  constructor(private readonly opts: VmArchivesOptions) {
    this.db = opts.db;
    this.leaseMs = opts.lease_ms ?? 30_000;
    this.log = opts.logger ?? consoleLogger;
  }

  /** Removes imports a dead process left half-done. */
  async init(): Promise<void> {
    await privateDir(this.opts.importDir);
    for (const d of await readdir(this.opts.importDir)) await rm(join(this.opts.importDir, d), { recursive: true, force: true });
  }

  async exportVm(scope: Scope, id: unknown, opts: { gzip?: boolean; signal?: AbortSignal } = {}): Promise<VmExport> {
    const vmId = parseId(id, 'vm id');
    const hostId = (await vmPlacement(this.db, vmId, scope.project_id))?.host_id;
    if (hostId && !this.opts.drivers.has(hostId) && this.opts.relay) return this.exportFromAgent(scope, vmId, hostId, opts);
    const owner = `export-${randomUUID().slice(0, 8)}`;
    const begun = await this.db.transaction(async (tx) => {
      const vm = await requireVm(tx, scope, vmId, true);
      // What the host cannot do is refused before an operation begins.
      const driver = vm.host_id ? this.opts.drivers.get(vm.host_id) : undefined;
      if (driver && !can.archives(driver)) throw errors.unsupported('Exporting VMs', driver.kind);
      // Another client's export is streaming: this one cannot join it.
      if (vm.status === 'exporting') throw conflictError('export', vm, await inFlightOperation(tx, vm), true);
      const r = await beginAction(tx, scope, vm, 'export', { claim: { owner, lease_ms: this.leaseMs }, actor: scope.actor });
      return { ...r, row: vm };
    });
    const op = begun.operation!;
    const which = { id: op.id, vm_id: vmId };
    // Set once the lease is gone (cancelled, or taken over after a stall): the stream stops and
    // the operation, no longer this export's, is left as its new holder writes it.
    let lost: Error | null = null;
    let onLost = () => {};
    const stopRenewing = keepLease({
      lease_ms: this.leaseMs,
      renew: () => renewLease(this.db, op.id, owner, this.leaseMs),
      onLost: () => {
        lost = new Error('the export lost its lease (cancelled or taken over); the stream stops');
        this.log.warn({ operation: op.id }, 'export lease lost: stopping the stream');
        onLost();
      },
      onError: (err) => this.log.warn({ err, operation: op.id }, 'export lease renewal failed'),
    });
    let files: DiskFile[] = [];
    const end = async (ok: boolean, message: string) => {
      stopRenewing();
      // Copies made for this export (a remote host's disks) go once it is over, however it ended.
      for (const f of files)
        await f.release?.().catch((err: unknown) => this.log.warn({ err, path: f.path }, 'removing an export copy failed'));
      if (lost) return;
      await finishOperation(
        this.db,
        which,
        owner,
        ok
          ? { result: 'succeeded', outcome: { status: 'stopped', message } }
          : { result: 'failed', error: message, outcome: { status: 'stopped' } },
        this.opts.telemetry,
      );
    };
    let archive: Readable;
    try {
      const driver = begun.row.host_id ? this.opts.drivers.get(begun.row.host_id) : undefined;
      if (!driver) throw errors.hostUnavailable("This server does not run the VM's host, so it cannot read its disks");
      if (!begun.row.domain_ref) throw errors.validation(`VM ${vmId} has no disks on its host (provisioning failed)`);
      if (!can.archives(driver)) throw errors.unsupported('Exporting VMs', driver.kind);
      const writer = await exportStream();
      files = await driver.exportDisks(begun.row.domain_ref, { signal: opts.signal });
      const manifest: ArchiveManifest = {
        format: ARCHIVE_FORMAT,
        version: ARCHIVE_VERSION,
        exported_at: new Date().toISOString(),
        driver: driver.kind,
        vm: manifestVmOf(begun.row),
        disks: await writer.describeDisks(files, opts.signal),
      };
      archive = writer.archiveStream(manifest, files, { gzip: opts.gzip === true });
    } catch (err) {
      const e = driverFailure(err, 'export failed');
      await end(false, e.message);
      throw e;
    }
    let bytes = 0;
    let finished = false;
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    archive.on('data', (c: Buffer) => (bytes += c.length));
    archive.on('error', (err) => out.destroy(err));
    archive.pipe(out);
    onLost = () => {
      archive.destroy();
      out.destroy(lost ?? undefined);
    };
    if (lost) onLost();
    out.once('end', () => {
      finished = true;
      void end(true, `exported ${bytes} bytes`).catch((err: unknown) => this.log.error({ err }, 'ending an export failed'));
    });
    out.once('close', () => {
      if (finished) return;
      archive.destroy();
      void end(false, `the client stopped reading after ${bytes} bytes`).catch((err: unknown) =>
        this.log.error({ err }, 'ending an export failed'),
      );
    });
    const ext = opts.gzip ? 'tar.gz' : 'tar';
    return {
      vm: begun.vm,
      operation: op,
      stream: out,
      filename: `${begun.row.name}.${ext}`,
      content_type: opts.gzip ? 'application/gzip' : 'application/x-tar',
    };
  }

  /**
   * An export of a VM on an agent's host: an `export` operation queued for that host, whose
   * agent builds the archive there and sends it to this process, which hands it to the caller
   * as it arrives (one chunk in memory at a time, as a local export).
   */
  private async exportFromAgent(
    scope: Scope,
    vmId: string,
    hostId: string,
    opts: { gzip?: boolean; signal?: AbortSignal },
  ): Promise<VmExport> {
    const relay = this.opts.relay!;
    const transfer = randomUUID();
    const begun = await this.db.transaction(async (tx) => {
      const vm = await requireVm(tx, scope, vmId, true);
      if (vm.status === 'exporting') throw conflictError('export', vm, await inFlightOperation(tx, vm), true);
      if (!vm.domain_ref) throw errors.validation(`VM ${vmId} has no disks on its host (provisioning failed)`);
      const manifest_vm = manifestVmOf(vm);
      const r = await beginAction(tx, scope, vm, 'export', {
        actor: scope.actor,
        input: { transfer, gzip: opts.gzip === true, manifest_vm },
      });
      return { ...r, name: vm.name };
    });
    const op = begun.operation!;
    // The agent connects once it has claimed the export and read its disks (hashing them may
    // take long): the wait lasts while the operation runs, and only a claim is timed.
    const watching = new AbortController();
    void this.watchExport(op.id, watching);
    const waiting = AbortSignal.any([watching.signal, ...(opts.signal ? [opts.signal] : [])]);
    let stream: Readable;
    try {
      stream = await relay.awaitArchive({ id: transfer, host_id: hostId }, waiting);
      watching.abort();
    } catch (err) {
      watching.abort();
      // No agent took it up in time: the export is over before it began.
      const reason = `the host's agent did not begin the export (${err instanceof Error ? err.message : String(err)})`;
      await finishOperation(
        this.db,
        { id: op.id, vm_id: vmId },
        null,
        { result: 'failed', error: reason, outcome: { status: 'stopped' } },
        this.opts.telemetry,
      );
      throw errors.hostUnavailable(reason);
    }
    const ext = opts.gzip ? 'tar.gz' : 'tar';
    return {
      vm: begun.vm,
      operation: op,
      stream,
      filename: `${begun.name}.${ext}`,
      content_type: opts.gzip ? 'application/gzip' : 'application/x-tar',
    };
  }

  /** Aborts `ctl` when the export ended without sending (failed, cancelled) or no agent claimed it in time. */
  private async watchExport(opId: string, ctl: AbortController): Promise<void> {
    const since = Date.now();
    while (!ctl.signal.aborted) {
      await new Promise((r) => setTimeout(r, 500));
      if (ctl.signal.aborted) return;
      const [row] = await this.db
        .select({ status: operations.status, error: operations.error })
        .from(operations)
        .where(eq(operations.id, opId))
        .catch(() => [] as { status: string; error: string | null }[]);
      if (!row) continue;
      if (!['pending', 'running'].includes(row.status)) ctl.abort(new Error(row.error ?? `the export ${row.status}`));
      else if (row.status === 'pending' && Date.now() - since > (this.opts.agent_wait_ms ?? 60_000))
        ctl.abort(new Error('no agent claimed it in time'));
    }
  }

  async importVm(scope: Scope, body: Readable, opts: { name?: string; signal?: AbortSignal } = {}): Promise<Vm> {
    const name = opts.name === undefined ? undefined : parse(VmName, opts.name, 'name');
    // The first host here that takes archives; checked before a byte of the archive is read.
    const [hostId, driver] = [...this.opts.drivers.entries()].find(([, d]) => can.archives(d)) ?? [];
    if ((!hostId || !driver) && this.opts.relay) return this.importToAgent(scope, body, name, opts.signal);
    if (!hostId || !driver) {
      const any = [...this.opts.drivers.values()][0];
      if (any) throw errors.unsupported('Importing VMs', any.kind);
      throw errors.hostUnavailable('This server runs no hypervisor host to import into');
    }
    const dir = join(this.opts.importDir, randomUUID());
    await privateDir(dir);
    try {
      const { manifest, disks } = await (await importStream()).readArchive(body, {
        dir,
        max_bytes: this.opts.max_import_bytes ?? 1024 * 2 ** 30,
        signal: opts.signal,
      });
      const vmName = name ?? manifest.vm.name;
      const [taken] = await this.db
        .select({ id: vms.id })
        .from(vms)
        .where(and(eq(vms.project_id, scope.project_id), eq(vms.name, vmName), isNull(vms.deleted_at)));
      if (taken) throw errors.nameTaken(vmName);
      const vmId = randomUUID();
      const network = {
        type: manifest.vm.network.type,
        bridge_name: manifest.vm.network.bridge_name ?? null,
        mac_address: null,
        ip_address: null,
      };
      const { labels: _labels, os_version: _osVersion, ...hardware } = manifest.vm;
      const spec: DomainSpec = { ...hardware, vm_id: vmId, name: vmName, network };
      const defined = await (driver as HypervisorDriver & ArchiveCapability)
        .importDomain(spec, disks, { signal: opts.signal })
        .catch((err: unknown) => {
          throw driverFailure(err, 'import failed');
        });
      try {
        return await this.db.transaction(async (tx) => {
          await enforceQuota(tx, scope.project_id, { vms: 1, cpu_cores: spec.cpu_cores, memory_mb: spec.memory_mb, disk_gb: spec.disk_gb });
          await reserve(tx, { cpus: spec.cpu_cores, memory_mb: spec.memory_mb, disk_gb: spec.disk_gb }, { host_id: hostId, new_vm: true });
          const now = new Date();
          const row = await insertVm(tx, {
            id: vmId,
            project_id: scope.project_id,
            host_id: hostId,
            name: vmName,
            status: 'stopped',
            cpu_cores: spec.cpu_cores,
            memory_mb: spec.memory_mb,
            disk_gb: spec.disk_gb,
            os_type: spec.os_type,
            os_version: manifest.vm.os_version,
            labels: manifest.vm.labels,
            network: { ...network, mac_address: defined.mac_address },
            vnc_enabled: spec.vnc_enabled,
            vnc_port: defined.vnc_port,
            domain_ref: defined.ref,
            created_at: now,
            updated_at: now,
          });
          await appendEvents(tx, [
            {
              vm_id: vmId,
              project_id: scope.project_id,
              type: 'vm.created',
              message: `VM ${vmName} imported from an archive of ${manifest.vm.name} (${manifest.driver}, exported ${manifest.exported_at})`,
              to_status: 'stopped',
              data: { imported: true, disks: manifest.disks.map((d) => ({ name: d.name, sha256: d.sha256 })) },
            },
          ]);
          await notifyChange(tx, { vm_id: vmId, operation_id: null, status: 'stopped' });
          return toVm(row);
        });
      } catch (err) {
        await driver.undefine(defined.ref, { delete_disks: true }).catch(() => {});
        // Another import (or a create) took the name after the check above.
        if (isUniqueViolation(err)) throw errors.nameTaken(vmName);
        throw err;
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * An import onto an agent's host: the archive is checked here whole, then the scheduler
   * places the VM and a create operation takes the disks to the host, whose agent fetches them
   * from this process. The caller's request ends when the VM is there (or the create failed).
   */
  private async importToAgent(scope: Scope, body: Readable, name: string | undefined, signal?: AbortSignal): Promise<Vm> {
    const relay = this.opts.relay!;
    const dir = join(this.opts.importDir, randomUUID());
    await privateDir(dir);
    let withdraw = () => {};
    try {
      const { manifest, disks } = await (await importStream()).readArchive(body, {
        dir,
        max_bytes: this.opts.max_import_bytes ?? 1024 * 2 ** 30,
        signal,
      });
      const vmName = name ?? manifest.vm.name;
      const transfer = randomUUID();
      const vmId = randomUUID();
      const opId = randomUUID();
      const created = await this.db
        .transaction(async (tx) => {
          const r = { cpus: manifest.vm.cpu_cores, memory_mb: manifest.vm.memory_mb, disk_gb: manifest.vm.disk_gb };
          await enforceQuota(tx, scope.project_id, { vms: 1, cpu_cores: r.cpus, memory_mb: r.memory_mb, disk_gb: r.disk_gb });
          const hostId = await reserve(tx, r, { new_vm: true });
          const now = new Date();
          const row = await insertVm(tx, {
            id: vmId,
            project_id: scope.project_id,
            host_id: hostId,
            name: vmName,
            status: 'provisioning',
            cpu_cores: r.cpus,
            memory_mb: r.memory_mb,
            disk_gb: r.disk_gb,
            os_type: manifest.vm.os_type,
            os_version: manifest.vm.os_version,
            labels: manifest.vm.labels,
            network: {
              type: manifest.vm.network.type,
              bridge_name: manifest.vm.network.bridge_name ?? null,
              mac_address: null,
              ip_address: null,
            },
            vnc_enabled: manifest.vm.vnc_enabled,
            current_operation_id: opId,
            created_at: now,
            updated_at: now,
          });
          await insertOperation(tx, {
            id: opId,
            vm_id: vmId,
            project_id: scope.project_id,
            host_id: hostId,
            action: 'create',
            input: { start: false, import: { transfer, disks: manifest.disks } },
            deadline_at: new Date(now.getTime() + rule('create').deadline_s * 1000),
            created_at: now,
            updated_at: now,
          });
          const base = { vm_id: vmId, project_id: scope.project_id, operation_id: opId };
          await appendEvents(tx, [
            {
              ...base,
              type: 'vm.created',
              message: `VM ${vmName} imported from an archive of ${manifest.vm.name} (${manifest.driver}, exported ${manifest.exported_at})`,
              to_status: 'provisioning',
              data: { imported: true, disks: manifest.disks.map((d) => ({ name: d.name, sha256: d.sha256 })) },
            },
          ]);
          await notifyChange(tx, { vm_id: vmId, operation_id: opId, status: 'provisioning', operation_open: true });
          // Offered before the agent can hear of it.
          withdraw = relay.offerDisks({ id: transfer, host_id: hostId }, disks);
          await notifyWork(tx, hostId);
          return row;
        })
        .catch((err: unknown) => {
          withdraw();
          if (isUniqueViolation(err)) throw errors.nameTaken(vmName);
          throw err;
        });
      // Until the create ends, whether or not the caller stays: the agent may still be fetching the disks.
      const done = await this.waitForOperation(opId);
      if (done.status !== 'succeeded') throw errors.hostUnavailable(`import onto host failed: ${done.error ?? done.status}`);
      const [row] = await this.db.select().from(vms).where(eq(vms.id, created.id));
      return toVm(row!);
    } finally {
      withdraw();
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Until the operation has ended (woken by its NOTIFY; checked every second besides). */
  private async waitForOperation(id: string, signal?: AbortSignal): Promise<{ status: string; error: string | null }> {
    for (;;) {
      const [op] = await this.db
        .select({ status: operations.status, error: operations.error })
        .from(operations)
        .where(eq(operations.id, id));
      if (!op || !['pending', 'running'].includes(op.status)) return op ?? { status: 'failed', error: 'the operation vanished' };
      if (signal?.aborted) return { status: 'running', error: 'the client went away; the import goes on' };
      await new Promise<void>((resolve) => {
        const off = this.opts.notifier?.subscribe(id, () => finish());
        const timer = setTimeout(() => finish(), 1_000);
        function finish() {
          clearTimeout(timer);
          off?.();
          resolve();
        }
      });
    }
  }
}
