import type { VmGpuDevice } from '../domain/gpu.js';
import { DriverError, type GpuAssignment } from '../drivers/driver.js';
import type { VmRow } from '../store/schema.js';

/** The VM's domain on its host; a VM without one (its create failed) can only be deleted. */
export function refOf(vm: Pick<VmRow, 'domain_ref'>): string {
  if (!vm.domain_ref) throw new DriverError('not_found', 'the VM has no domain on its host (provisioning failed); delete it');
  return vm.domain_ref;
}

/** For steps that are done when the domain is already gone (delete after a takeover). */
export function ignoreMissing(err: unknown): void {
  if (err instanceof DriverError && err.kind === 'not_found') return;
  throw err;
}

/** What a domain is given of the GPUs its VM holds. */
export const gpuAssignments = (devices: readonly Pick<VmGpuDevice, 'address' | 'numa_node'>[]): GpuAssignment[] =>
  devices.map((d) => ({ address: d.address, numa_node: d.numa_node }));

/** An operation input's GPU set (what the service took for it), if it carries one. */
export const gpusOf = (input: Record<string, unknown>) => input.gpus as GpuAssignment[] | undefined;

/** An operation input's seconds as milliseconds, with a default. */
export const seconds = (v: unknown, fallback: number) => (typeof v === 'number' ? v : fallback) * 1000;
