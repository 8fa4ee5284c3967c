import type { ArchiveDisk } from '../domain/archive.js';
import { can, type DefinedDomain, type DomainSpec, DriverError } from '../drivers/driver.js';
import { mediaOf } from '../worker/media.js';
import type { Checkpoint, WorkVm } from '../worker/operation-queue.js';
import type { ActionDefinition, PerformContext } from './action.js';
import { gpuAssignments } from './driver-calls.js';

function specOf(vm: WorkVm): DomainSpec {
  return {
    vm_id: vm.id,
    name: vm.name,
    cpu_cores: vm.cpu_cores,
    memory_mb: vm.memory_mb,
    disk_gb: vm.disk_gb,
    os_type: vm.os_type as DomainSpec['os_type'],
    network: vm.network,
    vnc_enabled: vm.vnc_enabled,
    gpus: gpuAssignments(vm.gpu_devices),
  };
}

/** An import onto an agent's host: its disks come from the API process holding them, and become the domain's. */
async function importDisks(ctx: PerformContext): Promise<DefinedDomain> {
  const { transfer, disks } = ctx.op.input.import as { transfer: string; disks: ArchiveDisk[] };
  if (!ctx.transfers) throw new DriverError('failed', 'this worker cannot receive disks');
  if (!can.archives(ctx.driver)) throw new DriverError('failed', `the ${ctx.driver.kind} driver cannot import VMs`);
  const files = await ctx.transfers.receive(transfer, disks);
  try {
    return await ctx.driver.importDomain(specOf(ctx.vm), files, { signal: ctx.signal });
  } finally {
    for (const f of files) await f.release?.().catch(() => {});
  }
}

/** Defines the VM's domain on its host (and starts it when asked). Requested by `services/create-vm.ts`. */
export const create: ActionDefinition = {
  verb: 'create',
  async perform(ctx) {
    const { op, vm, driver, signal } = ctx;
    const call = { signal };
    let ref = vm.domain_ref;
    let patch: Omit<Checkpoint, 'domain_ref'> = {};
    if (!ref) {
      // A takeover may find the domain a dead worker defined but never recorded.
      const earlier = op.attempts > 1 ? (await driver.list(call)).find((d) => d.vm_id === vm.id) : undefined;
      if (earlier) {
        ref = earlier.ref;
      } else {
        const d = op.input.import
          ? await importDisks(ctx)
          : await driver.define({ ...specOf(vm), ...(await mediaOf(ctx.image, vm)) }, call);
        ref = d.ref;
        ctx.defined(ref);
        patch = { vnc_port: d.vnc_port, network: { ...vm.network, mac_address: d.mac_address ?? vm.network.mac_address } };
      }
      // Record the handle at once, so a crash before the end of the operation orphans nothing.
      await ctx.checkpoint({ domain_ref: ref, ...patch });
    }
    const start = op.input.start === true;
    if (start) await driver.start(ref, call);
    return { status: start ? 'running' : 'stopped', vm: { domain_ref: ref, ...patch } };
  },
};
