/**
 * Export and import: export a stopped VM to a tar.gz file, import it as a new VM, compare.
 * Run a server (`pnpm start`), then: HANGAR_API_KEY=$(cat .hangar/admin-api-key) pnpm example export-import
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@hangar/sdk';

const client = new Client();
const suffix = Date.now().toString(36);
const { vm } = await client.createVm(
  { name: `export-${suffix}`, cpu_cores: 1, memory_mb: 1024, disk_gb: 1, labels: { example: 'export-import' } },
  { wait: true },
);
console.log(`Created ${vm.name}: ${vm.status}`);

const dir = await mkdtemp(join(tmpdir(), 'hangar-example-'));
const file = join(dir, `${vm.name}.tar.gz`);
try {
  // The VM must be stopped; it is `exporting` while the archive streams, then `stopped` again.
  const { bytes } = await client.exportVm(vm.id, { path: file, compress: 'gzip' });
  console.log(`Exported ${vm.name} to ${file}: ${bytes} bytes (${(await stat(file)).size} on disk)`);

  const copy = await client.importVm(file, { name: `import-${suffix}` });
  console.log(
    `Imported ${copy.name}: ${copy.status}, ${copy.cpu_cores} vCPU, ${copy.memory_mb} MB, ${copy.disk_gb} GB, labels ${JSON.stringify(copy.labels)}`,
  );

  for (const id of [vm.id, copy.id]) await client.deleteVm(id, { wait: true });
  console.log('Deleted both');
} finally {
  await rm(dir, { recursive: true, force: true });
}
