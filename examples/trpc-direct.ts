/** The raw procedures: `client.trpc` is a typed tRPC client for people who want procedure calls directly. */
import { Client } from '@hangar/sdk';

const { trpc } = new Client();
const me = await trpc.auth.whoami.query();
console.log(`whoami -> ${me.username}`);

const created = await trpc.vms.create.mutate({ name: `direct-${Date.now().toString(36)}`, memory_mb: 512, disk_gb: 5, cpu_cores: 1 });
console.log(`vms.create -> ${created.vm.id} (${created.vm.status})`);

const done = await trpc.operations.wait.query({ id: created.operation!.id, timeout_ms: 30_000 });
console.log(`operations.wait -> ${done.operation.status}`);

const started = await trpc.vms.start.mutate({ id: created.vm.id, wait: true });
console.log(`vms.start (wait) -> ${started.vm.status}`);

const events = await trpc.vms.events.query({ id: created.vm.id });
for (const e of events) console.log(`  ${e.created_at} ${e.type.padEnd(20)} ${e.message}`);

const gone = await trpc.vms.delete.mutate({ id: created.vm.id, force: true, wait: true });
console.log(`vms.delete -> ${gone.vm.status}`);
