import { type Resources, release } from '../scheduler/reserve.js';
import type { Tx } from '../store/database.js';
import type { OperationRow, VmRow } from '../store/schema.js';

/**
 * A VM whose delete is accepted will never run again (the state machine lets nothing else start
 * it). One that is not running now (stopped, or still being created without being started)
 * gives its vCPUs and memory back to its host at once, so creates are not refused while
 * deletes wait in the queue. Its disk is still on the host until the delete is done, and
 * is released then (with the rest, for a VM that was running). The operation's input says what
 * went early: the ending releases the remainder, or takes it back if the delete failed.
 */
export async function releaseEarly(
  tx: Tx,
  vm: VmRow,
  inFlight: Pick<OperationRow, 'action' | 'input'> | null,
): Promise<{ released_early?: Resources }> {
  const idle = vm.status === 'stopped' || (vm.status === 'provisioning' && inFlight?.action === 'create' && inFlight.input.start !== true);
  if (!idle || !vm.host_id) return {};
  const early = { cpus: vm.cpu_cores, memory_mb: vm.memory_mb, disk_gb: 0 };
  await release(tx, vm.host_id, early);
  return { released_early: early };
}
