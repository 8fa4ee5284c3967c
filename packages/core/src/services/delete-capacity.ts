import { type Resources, release } from '../scheduler/reserve.js';
import type { Tx } from '../store/database.js';
import type { VmRow } from '../store/schema.js';

/**
 * A stopped VM whose delete is accepted will never run again (the state machine lets nothing
 * else start it): its vCPUs and memory go back to its host at once, so creates are not refused
 * while deletes wait in the queue. Its disk is still on the host until the delete is done, and
 * is released then (with the rest, for a VM that was running). The operation's input says what
 * went early: the ending releases the remainder, or takes it back if the delete failed.
 */
export async function releaseEarly(tx: Tx, vm: VmRow): Promise<{ released_early?: Resources }> {
  if (vm.status !== 'stopped' || !vm.host_id) return {};
  const early = { cpus: vm.cpu_cores, memory_mb: vm.memory_mb, disk_gb: 0 };
  await release(tx, vm.host_id, early);
  return { released_early: early };
}
