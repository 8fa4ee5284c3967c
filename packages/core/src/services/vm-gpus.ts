import { gpuAssignments } from '../actions/driver-calls.js';
import type { VmGpus } from '../domain/gpu.js';
import type { GpuAssignment } from '../drivers/driver.js';
import { fitGpus, type GpuFit } from '../scheduler/place.js';
import type { Tx } from '../store/database.js';
import type { VmRow } from '../store/schema.js';
import { enforceQuota } from './quotas.js';

/** What a VM row asked for, as the API shows it. */
export const gpusAsked = (vm: Pick<VmRow, 'gpu_count' | 'gpu_model' | 'gpu_vendor'>): VmGpus | null =>
  vm.gpu_count > 0 ? { count: vm.gpu_count, model: vm.gpu_model, vendor: vm.gpu_vendor } : null;

/** Takes what a change of GPUs needs on the VM's host, within the project's GPU quota (what it takes counts before what it lets go). */
async function fit(tx: Tx, vm: VmRow, ask: VmGpus | null): Promise<GpuFit> {
  return fitGpus(tx, vm, ask, async (more) => {
    await enforceQuota(tx, vm.project_id, { gpus: more });
  });
}

/**
 * Every start of a VM that asks for or holds GPUs settles its domain on what it asked for: the
 * GPUs it holds that match are kept, those missing are taken on its host (after a stop with
 * `release_gpus`; 503 naming the model when too few are free, and it stays stopped), any beyond
 * the request (a hardware change that failed) are dropped. The start gives the domain exactly
 * those GPUs before launching it, whatever an interrupted operation left in it, and frees the
 * dropped ones once it has. Nothing for a VM without GPUs.
 */
export async function settleGpusForStart(tx: Tx, vm: VmRow): Promise<{ gpus?: GpuAssignment[]; gpus_dropped?: string[] }> {
  const ask = gpusAsked(vm);
  if (!ask && vm.gpu_devices.length === 0) return {};
  const { held, dropped } = await fit(tx, vm, ask);
  return { gpus: gpuAssignments(held), ...(dropped.length ? { gpus_dropped: dropped.map((g) => g.address) } : {}) };
}

/**
 * A hardware change's GPUs: the GPUs added are taken now, those dropped stay the VM's until
 * its domain has let them go. The operation's input carries both: a success frees the dropped
 * ones; a failure frees nothing (the host may have applied the change before the operation
 * was failed; the VM's next start settles its domain and frees the extra).
 */
export async function changeGpus(tx: Tx, vm: VmRow, ask: VmGpus | null) {
  const { held, added, dropped } = await fit(tx, vm, ask);
  return {
    gpus: gpuAssignments(held),
    gpus_added: added.map((g) => g.address),
    gpus_dropped: dropped.map((g) => g.address),
  };
}
