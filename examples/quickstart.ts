/**
 * Quickstart: authenticate, create a VM, start it, wait for it to run, stop it, delete it.
 * Run a server (`pnpm start`), then: HANGAR_API_KEY=$(cat .hangar/admin-api-key) pnpm example quickstart
 */
import { Client } from '@hangar/sdk';

const client = new Client(); // HANGAR_URL and HANGAR_API_KEY from the environment
const me = await client.authenticate();
console.log(`Signed in as ${me.username} (${me.role}) in project ${me.project_id}`);

const name = `quickstart-${Date.now().toString(36)}`;
// Creating is an operation (the VM is `provisioning` meanwhile); `wait: true` returns once it is done.
const { vm, operation } = await client.createVm(
  { name, cpu_cores: 2, memory_mb: 2048, disk_gb: 20, labels: { example: 'quickstart' } },
  { wait: true },
);
console.log(`Created ${vm.name} (${vm.id}): ${vm.status}, by operation ${operation?.id}`);

await client.startVm(vm.id);
const running = await client.waitForVm(vm.id, 'running', { timeout_ms: 60_000 });
console.log(
  `${running.name} is ${running.status}; VNC ${running.vnc_port === null ? 'console on the host (unix socket)' : `on port ${running.vnc_port}`}`,
);

const stopped = await client.stopVm(vm.id, { timeout_s: 30, wait: true });
console.log(`Stopped: ${stopped.vm.status}`);

const deleted = await client.deleteVm(vm.id, { delete_disks: true, wait: true });
console.log(`Deleted: ${deleted.vm.status} at ${deleted.vm.deleted_at}`);
