/**
 * How long Hangar takes to start a libvirt domain, against `virsh start` of the same domain.
 *   Hangar:   POST /api/v1/vms/{id}/start?wait=true, until it answers (the worker has called
 *             virDomainCreate and libvirt says the domain runs).
 *   Baseline: `virsh start hangar-<id>`, until it exits (virsh has called virDomainCreate).
 * Both start the one defined domain (the tiny test guest, TCG), alternately, in the same run;
 * between rounds it is destroyed.
 * Run: pnpm --filter @hangar/server bench:libvirt [-- --rounds 7]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { openDatabase } from '@hangar/core';
import { ensureDefaultNetwork, libvirtSkipReason, libvirtTestGuest, TEST_LIBVIRT_URI } from '@hangar/core/testing';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startServer } from '../src/server.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' } } });
const rounds = Number(values.rounds);
const skip = await libvirtSkipReason();
if (skip) {
  console.log(skip);
  process.exit(0);
}

const dir = await mkdtemp('/tmp/hangar-libvirt-bench-');
const { chmod } = await import('node:fs/promises');
await chmod(dir, 0o711);
const boot = await libvirtTestGuest(join(dir, 'guest'));
await ensureDefaultNetwork();
const key = 'hgr_bench_key_0123456789abcdefghij';
// A pool of its own, removed at the end: the bench leaves nothing defined in libvirtd.
const pool = `hangar-bench-${process.pid}`;
const database = await openDatabase({ dataDir: join(dir, 'data') });
const server = await startServer({
  config: loadConfig({
    PORT: '0',
    HANGAR_DATA_DIR: join(dir, 'data'),
    HANGAR_DRIVER: 'libvirt',
    HANGAR_LIBVIRT_URI: TEST_LIBVIRT_URI,
    HANGAR_LIBVIRT_DOMAIN_TYPE: 'qemu',
    HANGAR_LIBVIRT_POOL: pool,
    HANGAR_LIBVIRT_IMAGE_DIR: join(dir, 'images'),
    HANGAR_LIBVIRT_KERNEL: boot.kernel,
    HANGAR_LIBVIRT_INITRD: boot.initrd!,
    HANGAR_LIBVIRT_APPEND: boot.append!,
    HANGAR_BOOTSTRAP_API_KEY: key,
    HANGAR_ADMIN_PASSWORD: 'bench-password-123',
    LOG_LEVEL: 'silent',
  }),
  database,
  log: createLogger('silent'),
  worker: { poll_ms: 1_000 },
});
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
const api = async (method: string, path: string, body?: unknown): Promise<any> => {
  const res = await fetch(`${server.url}/api/v1${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
};
const virsh = (...args: string[]) => run('virsh', ['-q', '-c', TEST_LIBVIRT_URI, ...args]);

const created = await api('POST', '/vms?wait=true', { name: 'bench-start', cpu_cores: 1, memory_mb: 256, disk_gb: 1 });
const vmId: string = created.vm.id;
const domain = `hangar-${vmId}`;

async function hangarStart(): Promise<number> {
  const t0 = performance.now();
  const r = await api('POST', `/vms/${vmId}/start?wait=true`);
  const ms = performance.now() - t0;
  if (r.vm.status !== 'running') throw new Error(`start ended ${r.vm.status}`);
  await api('POST', `/vms/${vmId}/force-stop?wait=true`);
  return ms;
}

async function virshStart(): Promise<number> {
  const t0 = performance.now();
  await virsh('start', domain);
  const ms = performance.now() - t0;
  const { stdout } = await virsh('domstate', domain);
  if (stdout.trim() !== 'running') throw new Error(`virsh start left ${stdout.trim()}`);
  await virsh('destroy', domain);
  // The reconciler hears the destroy; let Hangar settle on stopped before the next round.
  for (let i = 0; i < 100 && (await api('GET', `/vms/${vmId}`)).status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 50));
  return ms;
}

try {
  const a: number[] = [];
  const b: number[] = [];
  await hangarStart(); // warm-up: the first start pays for page cache and JIT
  await virshStart();
  for (let i = 0; i < rounds; i++) {
    a.push(await hangarStart());
    b.push(await virshStart());
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const hangar = median(a);
  const byHand = median(b);
  console.log(`libvirt start, tiny guest, TCG, ${rounds} rounds (median):`);
  console.log(`  Hangar API call -> running   ${hangar.toFixed(1)} ms`);
  console.log(`  virsh start                   ${byHand.toFixed(1)} ms`);
  console.log(`  ratio Hangar / virsh          ${(hangar / byHand).toFixed(2)}x`);
} finally {
  await api('DELETE', `/vms/${vmId}?delete_disks=true&wait=true`).catch(() => {});
  await server.close();
  await database.close();
  await virsh('pool-destroy', pool).catch(() => {});
  await virsh('pool-undefine', pool).catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
