import type { Outcome } from '../actions/action.js';
import type { StableStatus, VmStatus } from '../domain/status.js';
import { appendEvents, type NewEvent } from '../services/events.js';
import { type Resources, release } from '../services/hosts.js';
import type { Db } from '../store/database.js';
import { notifyChange } from '../store/notifier.js';
import { endOperation, lockOperation } from '../store/operation-rows.js';
import type { OperationRow, VmRow } from '../store/schema.js';
import { changeVm, lockVm } from '../store/vm-rows.js';

export interface Ending {
  result: 'succeeded' | 'failed';
  outcome: Outcome;
  /** Why it failed. */
  error?: string;
}

/** Host resources an ending gives back: a deleted VM's, or what a hardware change reserved but did not keep. */
function released(op: OperationRow, vm: VmRow, ending: Ending): Resources | null {
  if (ending.outcome.status === 'deleted') {
    return { cpus: vm.cpu_cores, memory_mb: vm.memory_mb, disk_gb: vm.disk_gb };
  }
  if (op.action !== 'update_hardware') return null;
  const reserved = (op.input.reserved ?? { cpus: 0, memory_mb: 0, disk_gb: 0 }) as Resources;
  if (ending.result === 'failed') return reserved;
  // Success: the reservation covered growth; shrinking frees the difference.
  const next = ending.outcome.vm ?? {};
  return {
    cpus: Math.max(0, vm.cpu_cores - (next.cpu_cores ?? vm.cpu_cores)),
    memory_mb: Math.max(0, vm.memory_mb - (next.memory_mb ?? vm.memory_mb)),
    disk_gb: 0,
  };
}

/**
 * Ends an operation and moves its VM, in one transaction, if the operation is still this
 * worker's to end (not cancelled, expired or taken over). Returns false when it was not.
 * `owner` null: the reconciler ends an operation no matter who holds it.
 */
export async function finishOperation(
  db: Db,
  which: { id: string; vm_id: string },
  owner: string | null,
  ending: Ending,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Lock order everywhere: VM first, then its operation.
    const vm = await lockVm(tx, which.vm_id);
    const op = await lockOperation(tx, which.id);
    if (!vm || !op) return false;
    const open = op.status === 'running' || (owner === null && op.status === 'pending');
    if (!open || (owner !== null && op.lease_owner !== owner)) return false;

    const status: StableStatus = ending.outcome.status;
    await endOperation(tx, op.id, { status: ending.result, error: ending.error ?? null });
    const ownsVm = vm.current_operation_id === op.id;
    if (ownsVm) {
      await changeVm(
        tx,
        vm,
        {
          ...(ending.outcome.vm ?? {}),
          status,
          current_operation_id: null,
          last_error: ending.result === 'failed' ? (ending.error ?? 'operation failed') : null,
        },
        { operation_id: op.id },
      );
      const free = released(op, vm, ending);
      if (free) await release(tx, vm.host_id, free);
    }
    const base = { vm_id: vm.id, project_id: vm.project_id, operation_id: op.id };
    const list: NewEvent[] = [
      ending.result === 'succeeded'
        ? {
            ...base,
            type: 'operation.succeeded',
            message: `${op.action} succeeded${ending.outcome.message ? `: ${ending.outcome.message}` : ''}`,
            data: ending.outcome.data ?? {},
          }
        : { ...base, type: 'operation.failed', message: `${op.action} failed: ${ending.error}`, data: ending.outcome.data ?? {} },
    ];
    if (ownsVm && status !== vm.status) {
      list.push({
        ...base,
        type: 'vm.status_changed',
        message: `${vm.status} -> ${status}`,
        from_status: vm.status as VmStatus,
        to_status: status,
      });
    }
    await appendEvents(tx, list);
    // Waiters on the operation learn it ended even when it no longer owned the VM.
    if (!ownsVm) await notifyChange(tx, { vm_id: vm.id, operation_id: op.id, status: vm.status as VmStatus });
    return true;
  });
}
