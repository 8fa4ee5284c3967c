import { errors } from '../domain/errors.js';
import { MutationOptions, type VmActionResult } from '../domain/operation.js';
import type { Scope } from '../domain/project.js';
import { HARDWARE_FIELDS, type HardwareChanges, METADATA_FIELDS, normalizeGpus, normalizeNetwork, UpdateVmInput } from '../domain/vm.js';
import { reserve } from '../scheduler/reserve.js';
import type { Db } from '../store/database.js';
import { toVm } from '../store/mappers.js';
import { changeVm } from '../store/vm-rows.js';
import { beginAction, checkVersion, conflictError, inFlightOperation } from './begin-action.js';
import { appendEvents } from './events.js';
import { canonicalJson, idempotent } from './idempotency.js';
import { nameGuard } from './name-guard.js';
import { enforceQuota } from './quotas.js';
import { parse, parseId } from './validate.js';
import { changeGpus, gpusAsked } from './vm-gpus.js';
import { requireVm } from './vm-queries.js';

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

/**
 * Metadata changes apply at once, in any state but deleted. Hardware changes need a stopped
 * VM and run as an `update_hardware` operation; the VM shows the new hardware once the
 * hypervisor has it. A request mixing both is all-or-nothing.
 */
export async function updateVm(
  db: Db,
  scope: Scope,
  id: string,
  rawPatch: unknown,
  rawOpts: MutationOptions = {},
): Promise<VmActionResult> {
  const vmId = parseId(id, 'vm id');
  const patch = parse(UpdateVmInput, rawPatch, 'update');
  const opts = parse(MutationOptions, rawOpts, 'options');
  return nameGuard(patch.name, () =>
    db.transaction((tx) =>
      idempotent(tx, scope, opts.idempotency_key, { action: 'update', vm_id: vmId, patch, opts }, async () => {
        let vm = await requireVm(tx, scope, vmId, true);
        checkVersion(vm, opts.expected_version);
        if (vm.status === 'deleted') {
          throw errors.invalidState(`VM ${vm.id} is deleted and cannot be changed`, {
            status: 'deleted',
            allowed_actions: [],
            operation_id: null,
            retryable: false,
          });
        }
        const current: Record<string, unknown> = { ...vm };
        const meta: Record<string, unknown> = {};
        for (const f of METADATA_FIELDS) {
          if (patch[f] !== undefined && !same(patch[f], current[f])) meta[f] = patch[f];
        }
        const hw: HardwareChanges = {};
        for (const f of HARDWARE_FIELDS) {
          if (f === 'gpus') continue;
          const v = f === 'network' && patch.network ? normalizeNetwork(patch.network) : patch[f];
          if (v !== undefined && !same(v, current[f])) (hw as Record<string, unknown>)[f] = v;
        }
        const gpus = patch.gpus === undefined ? undefined : normalizeGpus(patch.gpus);
        if (gpus !== undefined && !same(gpus, gpusAsked(vm))) {
          Object.assign(hw, { gpu_count: gpus?.count ?? 0, gpu_model: gpus?.model ?? null, gpu_vendor: gpus?.vendor ?? null });
        }
        const hasHw = Object.keys(hw).length > 0;
        if (hasHw && vm.status !== 'stopped') {
          throw conflictError('update_hardware', vm, await inFlightOperation(tx, vm), vm.current_operation_id !== null);
        }
        if (hw.disk_gb !== undefined && hw.disk_gb < vm.disk_gb) {
          throw errors.validation(`disk_gb can only grow (it is ${vm.disk_gb})`, [
            { path: 'disk_gb', message: `must be at least ${vm.disk_gb}` },
          ]);
        }
        if (Object.keys(meta).length > 0) {
          vm = await changeVm(tx, vm, meta, { operation_id: null });
          await appendEvents(tx, [
            {
              vm_id: vm.id,
              project_id: vm.project_id,
              type: 'vm.updated',
              message: `changed ${Object.keys(meta).join(', ')}`,
              data: { changes: meta },
            },
          ]);
        }
        if (!hasHw) return { vm: toVm(vm), operation: null };
        const grow = {
          cpus: Math.max(0, (hw.cpu_cores ?? vm.cpu_cores) - vm.cpu_cores),
          memory_mb: Math.max(0, (hw.memory_mb ?? vm.memory_mb) - vm.memory_mb),
          disk_gb: Math.max(0, (hw.disk_gb ?? vm.disk_gb) - vm.disk_gb),
        };
        if (grow.cpus + grow.memory_mb + grow.disk_gb > 0) {
          await enforceQuota(tx, vm.project_id, { cpu_cores: grow.cpus, memory_mb: grow.memory_mb, disk_gb: grow.disk_gb });
          await reserve(tx, grow, { host_id: vm.host_id });
        }
        const gpuChange = gpus !== undefined && hw.gpu_count !== undefined ? await changeGpus(tx, vm, gpus) : {};
        return beginAction(tx, scope, vm, 'update_hardware', { input: { changes: hw, reserved: grow, ...gpuChange }, actor: scope.actor });
      }),
    ),
  );
}
