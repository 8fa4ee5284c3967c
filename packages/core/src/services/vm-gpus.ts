import { gpuAssignments } from '../actions/driver-calls.js';
import type { VmGpus } from '../domain/gpu.js';
import { fitGpus, type GpuFit } from '../scheduler/place.js';
import type { Tx } from '../store/database.js';
import type { VmRow } from '../store/schema.js';
import { enforceQuota } from './quotas.js';

/** What a VM row asked for, as the API shows it. */
export const gpusAsked = (vm: Pick<VmRow, 'gpu_count' | 'gpu_model' | 'gpu_vendor'>): VmGpus | null =>
  vm.gpu_count > 0 ? { count: vm.gpu_count, model: vm.gpu_model, vendor: vm.gpu_vendor } : null;

/** Takes what a change of GPUs needs on the VM's host, within the project's GPU quota. */
async function fit(tx: Tx, vm: VmRow, ask: VmGpus | null): Promise<GpuFit> {
  const more = (ask?.count ?? 0) - vm.gpu_devices.length;
  if (more > 0) await enforceQuota(tx, vm.project_id, { gpus: more });
  return fitGpus(tx, vm, ask);
}

/**
 * A stopped VM that gave its GPUs back (`release_gpus`) takes them again when it starts, on its
 * host (503 naming the model when too few are free: it stays stopped). Returns what the start
 * operation's input carries: the GPUs its domain is to be given; nothing when it holds them.
 */
export async function regainGpus(tx: Tx, vm: VmRow): Promise<{ gpus?: ReturnType<typeof gpuAssignments> }> {
  const ask = gpusAsked(vm);
  if (!ask || vm.gpu_devices.length >= ask.count) return {};
  const { held } = await fit(tx, vm, ask);
  return { gpus: gpuAssignments(held) };
}

/**
 * A hardware change's GPUs: the GPUs added are taken now, those dropped stay the VM's until
 * its domain has let them go. The operation's input carries both, so its ending frees the
 * dropped ones (succeeded) or the added ones (failed).
 */
export async function changeGpus(tx: Tx, vm: VmRow, ask: VmGpus | null) {
  const { held, added, dropped } = await fit(tx, vm, ask);
  return {
    gpus: gpuAssignments(held),
    gpus_added: added.map((g) => g.address),
    gpus_dropped: dropped.map((g) => g.address),
  };
}
