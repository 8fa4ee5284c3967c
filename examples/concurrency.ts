/**
 * Concurrency: one operation at a time per VM. Conflicting actions are refused with a
 * ConflictError that says why (status, allowed actions, the operation in the way); repeating
 * an action returns the operation already doing it; idempotency keys make retries safe.
 */
import { Client, ConflictError } from '@hangar/sdk';

const client = new Client();
const { vm } = await client.createVm({ name: `race-${Date.now().toString(36)}`, memory_mb: 512, disk_gb: 5, cpu_cores: 1 }, { wait: true });

const attempts = await Promise.allSettled([
  client.startVm(vm.id),
  client.startVm(vm.id),
  client.pauseVm(vm.id),
  client.deleteVm(vm.id),
  client.stopVm(vm.id),
]);
for (const [i, a] of attempts.entries()) {
  if (a.status === 'fulfilled') {
    console.log(`#${i}: accepted -> operation ${a.value.operation?.id ?? '(none needed)'}, VM ${a.value.vm.status}`);
  } else if (a.reason instanceof ConflictError) {
    const e = a.reason;
    console.log(`#${i}: ${e.code} (${e.status}) while ${e.vmStatus}; allowed: [${e.allowedActions.join(', ')}]; retryable: ${e.retryable}; in the way: ${e.operationId}`);
  } else {
    throw a.reason;
  }
}
const starts = attempts.filter((a) => a.status === 'fulfilled' && a.value.operation?.action === 'start');
const ids = new Set(starts.map((a) => (a as PromiseFulfilledResult<Awaited<ReturnType<Client['startVm']>>>).value.operation!.id));
console.log(`both starts share one operation: ${ids.size === 1}`);

const running = await client.waitForVm(vm.id, 'running', { timeout_ms: 30_000 });
console.log(`settled: ${running.status}`);

// The same idempotency key twice: the second call replays the first answer.
const key = `pause-${vm.id}`;
const first = await client.pauseVm(vm.id, { idempotency_key: key });
const again = await client.pauseVm(vm.id, { idempotency_key: key });
console.log(`idempotent replay returns the same operation: ${first.operation?.id === again.operation?.id}`);

await client.deleteVm(vm.id, { force: true, wait: true });
console.log('cleaned up');
