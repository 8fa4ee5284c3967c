import { and, eq } from 'drizzle-orm';
import type { StableStatus } from '../domain/status.js';
import type { HardwareChanges } from '../domain/vm.js';
import { type DomainSpec, DriverError, type HypervisorDriver } from '../drivers/driver.js';
import type { ImageStore } from '../images/store.js';
import type { Db } from '../store/database.js';
import { type OperationRow, type VmRow, vms } from '../store/schema.js';
import { mediaOf, readyImage } from './media.js';

/** What an operation did: the status the VM reaches and the fields that changed with it. */
export interface Outcome {
  status: StableStatus;
  vm?: Partial<
    Pick<
      VmRow,
      'domain_ref' | 'vnc_port' | 'network' | 'cpu_cores' | 'memory_mb' | 'disk_gb' | 'vnc_enabled' | 'deleted_at' | 'iso_image_id'
    >
  >;
  data?: Record<string, unknown>;
  message?: string;
}

export interface PerformContext {
  db: Db;
  op: OperationRow;
  vm: VmRow;
  driver: HypervisorDriver;
  /** The image store, for VMs made from or booting images. */
  images?: ImageStore;
  signal: AbortSignal;
  /** Called with a domain the operation defined, so it can be cleaned up if the operation was cancelled meanwhile. */
  defined(ref: string): void;
}

function specOf(vm: VmRow): DomainSpec {
  return {
    vm_id: vm.id,
    name: vm.name,
    cpu_cores: vm.cpu_cores,
    memory_mb: vm.memory_mb,
    disk_gb: vm.disk_gb,
    os_type: vm.os_type as DomainSpec['os_type'],
    network: vm.network,
    vnc_enabled: vm.vnc_enabled,
  };
}

function refOf(vm: VmRow): string {
  if (!vm.domain_ref) throw new DriverError('not_found', 'the VM has no domain on its host (provisioning failed); delete it');
  return vm.domain_ref;
}

const ignoreMissing = (err: unknown) => {
  if (err instanceof DriverError && err.kind === 'not_found') return;
  throw err;
};

const seconds = (v: unknown, fallback: number) => (typeof v === 'number' ? v : fallback) * 1000;

/** Carries out one operation on the hypervisor. Every step is safe to repeat after a takeover. */
export async function perform(ctx: PerformContext): Promise<Outcome> {
  const { op, vm, driver, signal } = ctx;
  const call = { signal };
  const input = op.input;
  switch (op.action) {
    case 'create': {
      let ref = vm.domain_ref;
      let patch: Outcome['vm'] = {};
      if (!ref) {
        // A takeover may find the domain a dead worker defined but never recorded.
        const earlier = op.attempts > 1 ? (await driver.list(call)).find((d) => d.vm_id === vm.id) : undefined;
        if (earlier) {
          ref = earlier.ref;
        } else {
          const d = await driver.define({ ...specOf(vm), ...(await mediaOf(ctx.db, ctx.images, vm, signal)) }, call);
          ref = d.ref;
          ctx.defined(ref);
          patch = { vnc_port: d.vnc_port, network: { ...vm.network, mac_address: d.mac_address ?? vm.network.mac_address } };
        }
        // Record the handle at once, so a crash before the end of the operation orphans nothing.
        await ctx.db
          .update(vms)
          .set({ domain_ref: ref, ...patch })
          .where(and(eq(vms.id, vm.id), eq(vms.current_operation_id, op.id)));
      }
      if (input.start === true) await driver.start(ref, call);
      return { status: input.start === true ? 'running' : 'stopped', vm: { domain_ref: ref, ...patch } };
    }
    case 'start':
      await driver.start(refOf(vm), call);
      return { status: 'running' };
    case 'stop': {
      const { forced } = await driver.shutdown(refOf(vm), { timeout_ms: seconds(input.timeout_s, 30) }, call);
      return { status: 'stopped', data: { forced }, message: forced ? 'forced off at the deadline' : 'guest shut down' };
    }
    case 'force_stop':
      await driver.kill(refOf(vm), call);
      return { status: 'stopped' };
    case 'restart': {
      const ref = refOf(vm);
      if (input.force === true) {
        await driver.kill(ref, call);
        await driver.start(ref, call);
        return { status: 'running', data: { forced: true } };
      }
      const { forced } = await driver.reboot(ref, { timeout_ms: seconds(input.timeout_s, 30) }, call);
      return { status: 'running', data: { forced } };
    }
    case 'reset':
      await driver.reset(refOf(vm), call);
      return { status: 'running' };
    case 'pause':
      await driver.pause(refOf(vm), call);
      return { status: 'paused' };
    case 'resume':
      await driver.resume(refOf(vm), call);
      return { status: 'running' };
    case 'update_hardware': {
      const changes = (input.changes ?? {}) as HardwareChanges;
      // Attaching (an image id) or ejecting (null) the CD-ROM's ISO.
      const iso = input.iso as { image_id: string | null } | undefined;
      let isoPath: { iso_path?: string | null } = {};
      if (iso) {
        if (iso.image_id && !ctx.images) throw new DriverError('unavailable', 'this worker has no image store');
        isoPath = { iso_path: iso.image_id ? ctx.images!.pathOf((await readyImage(ctx.db, iso.image_id, signal)).id) : null };
      }
      const fromDriver = await driver.reconfigure(refOf(vm), { ...changes, ...isoPath }, call);
      const network = changes.network
        ? { ...changes.network, mac_address: fromDriver.mac_address ?? changes.network.mac_address }
        : undefined;
      return {
        status: 'stopped',
        vm: {
          ...changes,
          ...(iso ? { iso_image_id: iso.image_id } : {}),
          ...(network ? { network } : {}),
          ...(fromDriver.vnc_port !== undefined ? { vnc_port: fromDriver.vnc_port } : {}),
        },
      };
    }
    case 'delete': {
      if (vm.domain_ref) {
        await driver.kill(vm.domain_ref, call).catch(ignoreMissing);
        await driver.undefine(vm.domain_ref, { delete_disks: input.delete_disks !== false }, call).catch(ignoreMissing);
      }
      return {
        status: 'deleted',
        vm: { deleted_at: new Date(), domain_ref: null, vnc_port: null },
        data: { delete_disks: input.delete_disks !== false },
      };
    }
    case 'export':
      // An export streams to its HTTP client; one found here outlived its server.
      throw new DriverError('failed', 'the export ended with the server that was streaming it');
    default:
      throw new DriverError('failed', `${op.action} is not supported by this worker yet`);
  }
}
