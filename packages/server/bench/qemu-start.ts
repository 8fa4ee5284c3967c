/**
 * How long Hangar takes to start a QEMU VM, against starting the same QEMU by hand.
 *   Hangar:   POST /api/v1/vms/{id}/start?wait=true, until it answers (the worker has spawned
 *             QEMU and QMP has answered that the VM runs).
 *   Baseline: spawn the identical command line, connect to QMP, until query-status says running.
 * Both boot the tiny test guest under TCG, alternately, in the same run.
 * Run: pnpm --filter @hangar/server bench:qemu [-- --rounds 7]
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type DomainRecord, openDatabase, QemuImg, QmpClient, qemuArgs, vmLayout } from '@hangar/core';
import { qemuSkipReason, testGuest } from '@hangar/core/testing/qemu';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startServer } from '../src/server.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' } } });
const rounds = Number(values.rounds);
const skip = qemuSkipReason();
if (skip) {
  console.log(skip);
  process.exit(0);
}

const boot = testGuest();
const dir = await mkdtemp('/tmp/hq-bench-');
const key = 'hgr_bench_key_0123456789abcdefghij';
const database = await openDatabase({ dataDir: dir });
const server = await startServer({
  config: loadConfig({
    PORT: '0',
    HANGAR_DATA_DIR: dir,
    HANGAR_DRIVER: 'qemu',
    HANGAR_QEMU_ACCEL: 'tcg',
    HANGAR_QEMU_KERNEL: boot.kernel,
    HANGAR_QEMU_INITRD: boot.initrd!,
    HANGAR_QEMU_APPEND: boot.append!,
    HANGAR_BOOTSTRAP_API_KEY: key,
    HANGAR_ADMIN_PASSWORD: 'bench-password-123',
    LOG_LEVEL: 'silent',
  }),
  database,
  log: createLogger('silent'),
  worker: { poll_ms: 1_000 },
});
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.url}/api/v1${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as any;
};

const spec = { cpu_cores: 1, memory_mb: 256, disk_gb: 1 };
const created = await api('POST', '/vms?wait=true', { name: 'bench-start', ...spec });
const vmId: string = created.vm.id;

// The baseline runs the very command line the driver builds, in a directory of its own.
const byHand = vmLayout(`${dir}/by-hand`, randomUUID());
await mkdir(byHand.dir, { recursive: true });
await new QemuImg().create(byHand.disk, spec.disk_gb);
const record: DomainRecord = {
  vm_id: byHand.dir.split('/').at(-1)!,
  name: 'by-hand',
  ...spec,
  network: { type: 'nat', bridge_name: null, mac_address: '52:54:00:00:00:01' },
  vnc: false,
  iso_path: null,
  created_at: new Date().toISOString(),
};
const argv = qemuArgs(record, byHand, { accel: 'tcg', boot });

async function hangarStart(): Promise<number> {
  const t0 = performance.now();
  const r = await api('POST', `/vms/${vmId}/start?wait=true`);
  const ms = performance.now() - t0;
  if (r.vm.status !== 'running') throw new Error(`start ended ${r.vm.status}`);
  await api('POST', `/vms/${vmId}/force-stop?wait=true`);
  return ms;
}

async function handStart(): Promise<number> {
  await rm(byHand.qmp, { force: true });
  const t0 = performance.now();
  const child = spawn('qemu-system-x86_64', argv, { cwd: byHand.dir, stdio: 'ignore' });
  let qmp: QmpClient | null = null;
  while (!qmp) qmp = await QmpClient.connect(byHand.qmp, 1_000).catch(() => null);
  const { status } = await qmp.execute<{ status: string }>('query-status');
  const ms = performance.now() - t0;
  if (status !== 'running') throw new Error(`by hand: ${status}`);
  await qmp.execute('quit');
  await new Promise((r) => child.once('exit', r));
  return ms;
}

const a: number[] = [];
const b: number[] = [];
await hangarStart(); // warm-up: first spawn pays for page cache and JIT
await handStart();
for (let i = 0; i < rounds; i++) {
  a.push(await hangarStart());
  b.push(await handStart());
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const hangar = median(a);
const hand = median(b);
console.log(`QEMU start, tiny guest, TCG, ${rounds} rounds (median):`);
console.log(`  Hangar API call -> running   ${hangar.toFixed(1)} ms`);
console.log(`  QEMU by hand -> QMP running   ${hand.toFixed(1)} ms`);
console.log(`  ratio Hangar / by hand        ${(hangar / hand).toFixed(2)}x`);
await api('DELETE', `/vms/${vmId}?delete_disks=true&wait=true`).catch(() => {});
await server.close();
await database.close();
await rm(dir, { recursive: true, force: true });
