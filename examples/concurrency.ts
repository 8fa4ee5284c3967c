/**
 * Concurrency: one operation at a time per VM. Conflicting actions are refused with a
 * ConflictError that says why (status, allowed actions, the operation in the way); repeating
 * an action returns the operation already doing it; idempotency keys make retries safe.
 */
import { Client, ConflictError } from '@hangar/sdk';

const client = new Client();
const { vm } = await client.createVm({ name: `race-${Date.now().toString(36)}`, memory_mb: 512, disk_gb: 5, cpu_cores: 1 }, { wait: true });

const start = await client.startVm(vm.id);
console.log(`start accepted -> operation ${start.operation?.id}, VM ${start.vm.status}`);

// While that start runs: the same start again, and actions that conflict with it.
const attempts = await Promise.allSettled([client.startVm(vm.id), client.pauseVm(vm.id), client.stopVm(vm.id), client.restartVm(vm.id)]);
for (const [i, a] of attempts.entries()) {
  if (a.status === 'fulfilled') {
    console.log(`#${i}: accepted -> operation ${a.value.operation?.id ?? '(none needed)'}, VM ${a.value.vm.status}`);
  } else if (a.reason instanceof ConflictError) {
    const e = a.reason;
    console.log(
      `#${i}: ${e.code} (${e.status}) while ${e.vmStatus}; allowed: [${e.allowedActions.join(', ')}]; retryable: ${e.retryable}; in the way: ${e.operationId}`,
    );
  } else {
    throw a.reason;
  }
}
const again = attempts[0];
const shared = again.status === 'fulfilled' && again.value.operation?.id === start.operation?.id;
console.log(`both starts share one operation: ${shared}`);
// Only a start still running is shared: on a hypervisor that answers at once it has ended first.
if (!shared) console.log('  (the first start ended before the second arrived; HANGAR_SIM_LATENCY_MS=150 pnpm start keeps it in flight)');

// On a fast hypervisor the start may already be done, and then some of those were accepted.
const settled = await client.waitForVm(vm.id, ['running', 'paused', 'stopped'], { timeout_ms: 30_000 });
console.log(`settled: ${settled.status}`);

// The same idempotency key twice, as a client retrying a create whose answer it lost: the
// second call replays the first answer (the same VM and operation) and makes nothing new.
const spec = { name: `${vm.name}-retried`, memory_mb: 512, disk_gb: 5, cpu_cores: 1 };
const key = `create-${spec.name}`;
const first = await client.createVm(spec, { idempotency_key: key });
const replay = await client.createVm(spec, { idempotency_key: key }).catch((err: unknown) => err as Error);
const made = await client.listVms({ search: spec.name, include_deleted: true }).toArray();
const replayed =
  !(replay instanceof Error) &&
  replay.vm.id === first.vm.id &&
  !!first.operation &&
  replay.operation?.id === first.operation.id &&
  made.length === 1;
const got = replay instanceof Error ? `${replay.name}: ${replay.message}` : `VM ${replay.vm.id}, operation ${replay.operation?.id}`;
console.log(`idempotent replay returns the same answer: ${replayed}`);
console.log(`first: VM ${first.vm.id}, operation ${first.operation?.id}; replay: ${got}; VMs named ${spec.name}: ${made.length}`);

for (const id of new Set([vm.id, ...made.map((m) => m.id)])) await client.deleteVm(id, { force: true, wait: true });
console.log('cleaned up');
