/** Listing: filters (status, labels, name search), one page at a time, or every page with for-await. */
import { Client } from '@hangar/sdk';

const client = new Client();
const run = Date.now().toString(36);
const made = await Promise.all(
  ['web', 'web', 'db'].map((role, i) =>
    client.createVm({ name: `${role}-${run}-${i}`, cpu_cores: 1, memory_mb: 512, disk_gb: 5, labels: { run, role } }, { wait: true }),
  ),
);
await client.startVm(made[0]!.vm.id, { wait: true });

const page = await client.listVms({ label: [`run=${run}`], per_page: 2 }).page();
console.log(`Page 1 of ${page.total_pages}: ${page.vms.map((v) => v.name).join(', ')} (${page.total} in all)`);

const webs = await client.listVms({ label: [`run=${run}`, 'role=web'] }).toArray();
console.log(`role=web: ${webs.map((v) => v.name).join(', ')}`);

const running = await client.listVms({ status: 'running', search: run }).toArray();
console.log(`running: ${running.map((v) => v.name).join(', ')}`);

let n = 0;
for await (const vm of client.listVms({ search: run, per_page: 1 })) {
  n++;
  console.log(`  ${vm.name.padEnd(24)} ${vm.status.padEnd(8)} ${vm.cpu_cores} vCPU ${vm.memory_mb} MB`);
}
console.log(`walked ${n} VMs one page at a time`);

await Promise.all(made.map(({ vm }) => client.deleteVm(vm.id, { force: true, wait: true })));
console.log('cleaned up');
