import { z } from 'zod';
import type { Outcome } from '../actions/action.js';
import { GpuFault } from '../domain/gpu.js';
import type { StableStatus, VmStatus } from '../domain/status.js';
import { type Resources, reclaim, release } from '../scheduler/reserve.js';
import { eventRow, type NewEvent } from '../services/events.js';
import type { Db, Tx } from '../store/database.js';
import { endOperationWith, lockVmAndOperation } from '../store/ending-rows.js';
import { freeVmGpus, markGpuFaults } from '../store/gpu-rows.js';
import { notifyChange } from '../store/notifier.js';
import type { OperationRow, VmRow } from '../store/schema.js';
import { NO_TELEMETRY, type Telemetry } from '../telemetry.js';

export interface Ending {
  result: 'succeeded' | 'failed';
  outcome: Outcome;
  /** Why it failed. */
  error?: string;
}

const NONE: Resources = { cpus: 0, memory_mb: 0, disk_gb: 0 };

/** Host resources an ending gives back: a deleted VM's (less what its delete gave back when accepted), or what a hardware change reserved but did not keep. */
function released(op: OperationRow, vm: VmRow, ending: Ending): Resources | null {
  if (ending.outcome.status === 'deleted') {
    const early = (op.input.released_early ?? NONE) as Resources;
    return { cpus: vm.cpu_cores - early.cpus, memory_mb: vm.memory_mb - early.memory_mb, disk_gb: vm.disk_gb - early.disk_gb };
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

const GpuFaults = z.array(GpuFault).max(64);
const addresses = (v: unknown) => (Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string') : []);

/**
 * GPUs an ending frees or condemns: a deleted VM's, a stop's that released them, those a
 * hardware change or a start dropped from the domain; and GPUs its launch found unusable become
 * unhealthy (`data.gpu_faults`, parsed: an agent reports it).
 */
async function settleGpus(tx: Tx, op: OperationRow, vmId: string, ending: Ending): Promise<void> {
  const ok = ending.result === 'succeeded';
  if (ending.outcome.status === 'deleted' || (ok && op.action === 'stop' && op.input.release_gpus === true)) {
    await freeVmGpus(tx, vmId);
  } else if (ok && (op.action === 'update_hardware' || op.action === 'start')) {
    // Freed only once the domain was given the rest: a failure may have come after the host
    // changed (a deadline, a crash), so nothing is freed then; the next start settles it.
    await freeVmGpus(tx, vmId, addresses(op.input.gpus_dropped));
  }
  const faults = GpuFaults.safeParse(ending.outcome.data?.gpu_faults);
  if (!ok && faults.success && faults.data.length > 0) await markGpuFaults(tx, vmId, faults.data);
}

/** What an ending that was written tells telemetry once committed. */
interface Ended {
  action: string;
  created_at: Date;
}

/** The operation to end and how: `owner` null, the reconciler ends it no matter who holds it. */
export interface Finish {
  which: { id: string; vm_id: string };
  owner: string | null;
  ending: Ending;
}

/**
 * Ends an operation and moves its VM, in one transaction, if the operation is still this
 * worker's to end (not cancelled, expired or taken over). Returns false when it was not.
 * `owner` null: the reconciler ends an operation no matter who holds it. `telemetry` hears of
 * the ending once it is committed (a transaction retried or rolled back is not counted).
 */
export async function finishOperation(
  db: Db,
  which: { id: string; vm_id: string },
  owner: string | null,
  ending: Ending,
  telemetry: Telemetry = NO_TELEMETRY,
): Promise<boolean> {
  return (await finishOperations(db, [{ which, owner, ending }], telemetry))[0]!;
}

/**
 * Ends several operations in one transaction (a group commit: one BEGIN, one COMMIT and one
 * flush of the log for all of them), each as `finishOperation` would. First every operation's
 * rows, their statements sent together, the VMs locked in the order of their ids; then, one
 * after another in the order of their hosts' ids, what an ending gives back to its host (its
 * resources, its GPUs). So two batches take their locks in the same order and cannot wait on
 * each other. All or none: if one fails, none is ended (a PostgreSQL error: the caller may end
 * them one by one). Returns, for each, whether it was ended.
 */
export async function finishOperations(db: Db, finishes: Finish[], telemetry: Telemetry = NO_TELEMETRY): Promise<boolean[]> {
  const order = finishes.map((_, i) => i).sort((a, b) => compare(finishes[a]!.which.vm_id, finishes[b]!.which.vm_id));
  const ended: (Ended | null)[] = await db.transaction(async (tx) => {
    // Sent in that order on the transaction's one connection, so locks are taken in it too.
    // Every one settles before the transaction ends: a statement sent after its ROLLBACK would
    // run outside it.
    const rows = await settled(order.map((i) => endRows(tx, finishes[i]!)));
    const settlements = rows
      .filter((r): r is EndedRows => r !== null && r.settle !== null)
      .sort((a, b) => compare(a.host_id ?? '', b.host_id ?? '') || compare(a.vm_id, b.vm_id));
    for (const r of settlements) await r.settle!();
    const byInput: (Ended | null)[] = new Array(finishes.length).fill(null);
    for (const [k, i] of order.entries()) byInput[i] = rows[k]?.ended ?? null;
    return byInput;
  });
  for (const [i, e] of ended.entries()) {
    if (!e) continue;
    try {
      telemetry.operationEnded({
        action: e.action,
        result: finishes[i]!.ending.result,
        duration_s: Math.max(0, Date.now() - e.created_at.getTime()) / 1000,
      });
    } catch {
      // Committed: a failing counter must not make the caller think otherwise.
    }
  }
  return ended.map((e) => e !== null);
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** All of them, once every one has settled; the first failure, if any, once every one has. */
async function settled<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** An ending's rows written; `settle`: what it still gives back to its host, if anything. */
interface EndedRows {
  ended: Ended;
  vm_id: string;
  host_id: string | null;
  settle: (() => Promise<void>) | null;
}

/** One operation's end, its VM's change and their events; null when it was not this owner's to end. */
async function endRows(tx: Tx, { which, owner, ending }: Finish): Promise<EndedRows | null> {
  // Lock order everywhere: VM first, then its operation.
  const locked = await lockVmAndOperation(tx, which.vm_id, which.id);
  if (!locked) return null;
  const { vm, op } = locked;
  const open = op.status === 'running' || (owner === null && op.status === 'pending');
  if (!open || (owner !== null && op.lease_owner !== owner)) return null;

  const status: StableStatus = ending.outcome.status;
  const ownsVm = vm.current_operation_id === op.id;
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
  // The operation's end, its VM's change and their events: one statement.
  await endOperationWith(
    tx,
    op.id,
    { status: ending.result, error: ending.error ?? null },
    ownsVm
      ? {
          vm_id: vm.id,
          patch: {
            ...(ending.outcome.vm ?? {}),
            status,
            current_operation_id: null,
            last_error: ending.result === 'failed' ? (ending.error ?? 'operation failed') : null,
          },
        }
      : null,
    list.map(eventRow),
  );
  // Waiters on the operation learn it ended even when it no longer owned the VM.
  if (!ownsVm) await notifyChange(tx, { vm_id: vm.id, operation_id: op.id, status: vm.status as VmStatus });
  const ended = { action: op.action, created_at: op.created_at };
  if (!ownsVm) return { ended, vm_id: vm.id, host_id: vm.host_id, settle: null };
  return {
    ended,
    vm_id: vm.id,
    host_id: vm.host_id,
    // Most endings (a start, a stop) give nothing back: this sends no statement for them.
    settle: async () => {
      const free = released(op, vm, ending);
      if (free) await release(tx, vm.host_id, free);
      // A delete that failed keeps its VM: what it gave back when accepted is the VM's again.
      if (op.action === 'delete' && ending.outcome.status !== 'deleted' && op.input.released_early) {
        await reclaim(tx, vm.host_id, op.input.released_early as Resources);
      }
      await settleGpus(tx, op, vm.id, ending);
    },
  };
}
