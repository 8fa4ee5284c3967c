/**
 * GPUs: the fleet's GPUs, a VM with an A100 passed through, what it holds, a request no host
 * can meet, and giving the GPU back at stop (its next start takes one again).
 * Against `pnpm start`, give the simulated host GPUs: HANGAR_SIM_GPUS=10de:20b0,10de:20b0@1
 */
import { Client, HangarError } from '@hangar/sdk';

const client = new Client();
const run = Date.now().toString(36);

// Global admins see every GPU of the fleet, with its host, NUMA node and holder.
const fleet = await client.listGpus();
for (const g of fleet)
  console.log(
    `  ${g.host_name} ${g.address} ${g.model ?? `${g.vendor_id}:${g.device_id}`} NUMA ${g.numa_node} ${g.vm_id ? 'held' : 'free'}`,
  );

// A fleet with no A100 free (`pnpm start` as it comes): say what to run, not a 503 and its stack.
if (!fleet.some((g) => !g.vm_id && /\bA100\b/.test(g.model ?? ''))) {
  console.error(
    'This example needs a free A100. Against `pnpm start`, give the simulated host two: HANGAR_SIM_GPUS=10de:20b0,10de:20b0@1 pnpm start',
  );
  process.exit(1);
}

const { vm } = await client.createVm(
  { name: `train-${run}`, cpu_cores: 4, memory_mb: 8192, disk_gb: 20, gpus: { count: 1, model: 'A100' }, start: true },
  { wait: true },
);
console.log(`${vm.name} is ${vm.status}, holding ${vm.gpu_devices.map((d) => `${d.model} at ${d.address}`).join(', ')}`);

// More than any host has: 503, naming the model, and nothing is created.
try {
  await client.createVm({ name: `huge-${run}`, gpus: { count: 8, model: 'A100' } });
} catch (err) {
  if (!(err instanceof HangarError)) throw err;
  console.log(`8 A100s: ${err.code} (${err.status})`);
}

const withA100 = await client.listVms({ gpu_model: 'A100', search: run }).toArray();
console.log(`VMs with an A100: ${withA100.map((v) => v.name).join(', ')}`);

await client.stopVm(vm.id, { release_gpus: true, wait: true });
const stopped = await client.getVm(vm.id);
console.log(`stopped with release_gpus: asks for ${stopped.gpus?.count}, holds ${stopped.gpu_devices.length}`);
const again = await client.startVm(vm.id, { wait: true });
console.log(`started again, holding ${again.vm.gpu_devices.length}`);

await client.deleteVm(vm.id, { force: true, wait: true });
console.log('cleaned up');
