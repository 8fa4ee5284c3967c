import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pciNames } from '../src/drivers/gpus/pci-ids.js';
import {
  type ControlPlane,
  ensureProject,
  type GpuAssignment,
  type GpuDevice,
  type Scope,
  SimulatedDriver,
  SimulatedHypervisor,
  silentLogger,
  startControlPlane,
} from '../src/index.js';
import { refreshInventory } from '../src/services/hosts.js';
import type { Database } from '../src/store/database.js';
import { createTestDatabase } from '../src/testing/index.js';
import { finishOperation } from '../src/worker/finish.js';

// GPUs as a resource, through the services and a worker, on several simulated hosts with
// different GPUs: placement by count, model and vendor, one NUMA node preferred, exhaustion,
// racing creates, quotas, and what delete, stop and resize do with the GPUs a VM holds.

/** A simulated GPU as a host reports it (names from the host's PCI ids database). */
function gpu(bus: number, ids: string, numa: number): GpuDevice {
  const [v, d] = ids.split(':') as [string, string];
  const names = pciNames(v, d);
  return {
    address: `0000:${bus.toString(16).padStart(2, '0')}:00.0`,
    vendor_id: `0x${v}`,
    device_id: `0x${d}`,
    vendor: names.vendor,
    model: names.model,
    memory_mb: null,
    driver: 'vfio-pci',
    iommu_group: bus,
    numa_node: numa,
    health: 'healthy',
    health_reason: null,
  };
}

const A100 = '10de:20b0';
const H100 = '10de:2330';
const MI210 = '1002:740f';

/**
 * Three hosts: `a100s` with one A100 on NUMA node 0 and two on node 1; `h100` with one H100;
 * `amd` with two MI210s. Plenty of CPU, memory and disk everywhere: GPUs decide.
 */
const HOSTS: Record<string, GpuDevice[]> = {
  a100s: [gpu(0x10, A100, 0), gpu(0x11, A100, 1), gpu(0x12, A100, 1)],
  amd: [gpu(0x20, MI210, 0), gpu(0x21, MI210, 0)],
  h100: [gpu(0x30, H100, 0)],
};

let database: Database;
let dir: string;
let cp: ControlPlane;
let scope: Scope;
const sims = new Map<string, SimulatedHypervisor>();

async function start(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), 'hangar-gpus-'));
  const hosts = Object.entries(HOSTS).map(([name, gpus]) => {
    const hypervisor = new SimulatedHypervisor({ seed: 1, gpus, capacity: { cpus: 64, memory_mb: 262_144, disk_gb: 4096 } });
    sims.set(name, hypervisor);
    return { name, driver: new SimulatedDriver({ hypervisor, disk_dir: join(dir, name), bytes_per_gb: 1024 }) };
  });
  cp = await startControlPlane({ database, hosts, worker: { poll_ms: 100 }, reconciler: false, logger: silentLogger, dataDir: dir });
  scope = { project_id: (await ensureProject(database.db, 'gpu-tests')).id, actor: 'test' };
}

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.close();
});
beforeEach(async () => {
  await database.sql`TRUNCATE events, operations, idempotency_keys, vms, gpu_devices, hosts, project_quotas CASCADE`;
  await start();
});
afterEach(async () => {
  await cp.close();
  await rm(dir, { recursive: true, force: true });
});

const hostName = (id: string | null) => cp.hosts.find((h) => h.id === id)?.name;
const spec = (name: string, gpus: { count: number; model?: string; vendor?: string }) => ({
  name,
  cpu_cores: 2,
  memory_mb: 1024,
  disk_gb: 5,
  gpus,
});
async function settled(op: { id: string } | null) {
  const done = await cp.services.operations.wait(scope, op!.id, { timeout_ms: 10_000 });
  expect(done.timed_out).toBe(false);
  return done.operation;
}
const freeOn = async (name: string) => (await cp.services.hosts.get(name)).gpus_free;
const holders = async () =>
  (await database.sql`SELECT address, vm_id FROM gpu_devices WHERE vm_id IS NOT NULL ORDER BY address`).map((r) => [r.address, r.vm_id]);

describe('GPU inventory', () => {
  it('keeps a row per GPU with names from the PCI ids database; hosts show free and used', async () => {
    const host = await cp.services.hosts.get('a100s');
    expect(host.gpus.map((g) => [g.address, g.vendor, g.model, g.numa_node, g.health, g.vm_id])).toEqual([
      ['0000:10:00.0', 'NVIDIA Corporation', 'GA100 [A100 SXM4 40GB]', 0, 'healthy', null],
      ['0000:11:00.0', 'NVIDIA Corporation', 'GA100 [A100 SXM4 40GB]', 1, 'healthy', null],
      ['0000:12:00.0', 'NVIDIA Corporation', 'GA100 [A100 SXM4 40GB]', 1, 'healthy', null],
    ]);
    expect([host.gpus_free, host.gpus_used]).toEqual([3, 0]);
    const all = await cp.services.gpus.list({});
    expect(all.map((g) => `${g.host_name}/${g.address}`)).toEqual([
      'a100s/0000:10:00.0',
      'a100s/0000:11:00.0',
      'a100s/0000:12:00.0',
      'amd/0000:20:00.0',
      'amd/0000:21:00.0',
      'h100/0000:30:00.0',
    ]);
    expect((await cp.services.gpus.list({ model: 'H100' })).map((g) => g.host_name)).toEqual(['h100']);
    expect((await cp.services.gpus.list({ model: '1002:740f' })).map((g) => g.address)).toEqual(['0000:20:00.0', '0000:21:00.0']);
    expect((await cp.services.gpus.list({ host_id: 'amd', free: false })).length).toBe(0);
    // The host filter is a host's id or name, by the one schema for it.
    await expect(cp.services.gpus.list({ host_id: 'not a host name!' })).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('follows the inventory: a GPU gone while free is forgotten; gone while held stays held, unhealthy', async () => {
    const { vm, operation } = await cp.services.vms.create(scope, spec('held', { count: 1, model: 'H100' }));
    await settled(operation);
    const amd = cp.hosts.find((h) => h.name === 'amd')!;
    const h100 = cp.hosts.find((h) => h.name === 'h100')!;
    await refreshInventory(database.db, amd.id, { capacity: { cpus: 64, memory_mb: 262_144, disk_gb: 4096 }, gpus: [HOSTS.amd![0]!] });
    await refreshInventory(database.db, h100.id, { capacity: { cpus: 64, memory_mb: 262_144, disk_gb: 4096 }, gpus: [] });
    expect((await cp.services.hosts.get('amd')).gpus.map((g) => g.address)).toEqual(['0000:20:00.0']);
    const [kept] = (await cp.services.hosts.get('h100')).gpus;
    expect(kept).toMatchObject({
      address: '0000:30:00.0',
      vm_id: vm.id,
      health: 'unhealthy',
      health_reason: 'no longer in the host inventory',
    });
    expect((await cp.services.vms.get(scope, vm.id)).gpu_devices.map((d) => d.address)).toEqual(['0000:30:00.0']);
  });
});

describe('GPU placement', () => {
  it('places a VM on a host with enough free GPUs of the model, all on one NUMA node, and shows what it holds', async () => {
    const two = await cp.services.vms.create(scope, spec('two', { count: 2, model: 'A100' }));
    expect(hostName(two.vm.host_id)).toBe('a100s');
    expect(two.vm.gpus).toEqual({ count: 2, model: 'A100', vendor: null });
    // Node 1 holds two: both come from it, not one from each node.
    expect(two.vm.gpu_devices).toEqual([
      { address: '0000:11:00.0', vendor: 'NVIDIA Corporation', model: 'GA100 [A100 SXM4 40GB]', host_id: two.vm.host_id, numa_node: 1 },
      { address: '0000:12:00.0', vendor: 'NVIDIA Corporation', model: 'GA100 [A100 SXM4 40GB]', host_id: two.vm.host_id, numa_node: 1 },
    ]);
    expect(await freeOn('a100s')).toBe(1);
    const vm = await cp.services.vms.get(scope, two.vm.id);
    expect(vm.gpu_devices.map((d) => d.address)).toEqual(['0000:11:00.0', '0000:12:00.0']);
    // The domain got them.
    await settled(two.operation);
    const sim = sims.get('a100s')!;
    expect([...sim.domains.values()].map((d) => d.spec.gpus?.map((g) => g.address))).toEqual([['0000:11:00.0', '0000:12:00.0']]);
  });

  it('gives one GPU from the node that fits it best, leaving a whole node for a larger VM', async () => {
    const one = await cp.services.vms.create(scope, spec('one', { count: 1, model: 'a100' }));
    expect(one.vm.gpu_devices.map((d) => [d.address, d.numa_node])).toEqual([['0000:10:00.0', 0]]);
    const two = await cp.services.vms.create(scope, spec('two', { count: 2, model: 'A100' }));
    expect(two.vm.gpu_devices.map((d) => d.numa_node)).toEqual([1, 1]);
  });

  it('matches whole words of the model, its vendor:device id, or the vendor', async () => {
    await expect(cp.services.vms.create(scope, spec('a10', { count: 1, model: 'A10' }))).rejects.toMatchObject({
      code: 'INSUFFICIENT_CAPACITY',
    });
    const byId = await cp.services.vms.create(scope, spec('by-id', { count: 1, model: '10de:2330' }));
    expect(hostName(byId.vm.host_id)).toBe('h100');
    const amd = await cp.services.vms.create(scope, spec('amd', { count: 2, vendor: 'AMD' }));
    expect(hostName(amd.vm.host_id)).toBe('amd');
    expect(amd.vm.gpu_devices.map((d) => d.model)).toEqual(['Aldebaran/MI200 [Instinct MI210]', 'Aldebaran/MI200 [Instinct MI210]']);
    const any = await cp.services.vms.create(scope, spec('any', { count: 1 }));
    expect(hostName(any.vm.host_id)).toBe('a100s');
  });

  it('refuses with 503 naming the model when no host has enough, and creates nothing', async () => {
    const before = await database.sql`SELECT name, allocated_cpus FROM hosts ORDER BY name`;
    const err = await cp.services.vms.create(scope, spec('big', { count: 4, model: 'A100' })).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'INSUFFICIENT_CAPACITY',
      details: { retryable: true, missing: ['GPUs'], gpus: { count: 4, model: 'A100', vendor: null } },
    });
    expect((err as Error).message).toBe(
      'No host has room for 2 vCPUs, 1024 MB of memory, 5 GB of disk and 4 A100 GPUs (a100s is short of GPUs (3 free A100); amd is short of GPUs (0 free A100); h100 is short of GPUs (0 free A100))',
    );
    expect((await database.sql`SELECT count(*)::int AS n FROM vms`)[0]!.n).toBe(0);
    expect(await holders()).toEqual([]);
    expect(await database.sql`SELECT name, allocated_cpus FROM hosts ORDER BY name`).toEqual(before);
  });

  it('gives the last GPU to one of two racing creates; the other gets 503 and nothing is left half-made', async () => {
    for (let round = 0; round < 4; round++) {
      const results = await Promise.allSettled([
        cp.services.vms.create(scope, spec(`race-${round}-a`, { count: 1, model: 'H100' })),
        cp.services.vms.create(scope, spec(`race-${round}-b`, { count: 1, model: 'H100' })),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect([won.length, lost.length]).toEqual([1, 1]);
      expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'INSUFFICIENT_CAPACITY' });
      const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof cp.services.vms.create>>>).value;
      expect(await holders()).toEqual([['0000:30:00.0', winner.vm.id]]);
      expect((await database.sql`SELECT count(*)::int AS n FROM vms WHERE deleted_at IS NULL`)[0]!.n).toBe(1);
      await settled(winner.operation);
      await settled((await cp.services.vms.delete(scope, winner.vm.id)).operation);
    }
  });

  it('counts GPUs against the project quota', async () => {
    await cp.services.projects.set_quotas(scope.project_id, { gpus: 2 });
    await cp.services.vms.create(scope, spec('q1', { count: 2, vendor: 'amd' }));
    await expect(cp.services.vms.create(scope, spec('q2', { count: 1 }))).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      message: 'Project quota exceeded: 2 of 2 GPUs in use, and this needs 1 more',
      details: { quota: 'gpus' },
    });
    expect((await cp.services.projects.quotas(scope.project_id)).usage.gpus).toBe(2);
  });

  it('filters VM lists by GPU model', async () => {
    await cp.services.vms.create(scope, spec('with-a100', { count: 1, model: 'A100' }));
    await cp.services.vms.create(scope, spec('with-amd', { count: 1, vendor: 'amd' }));
    await cp.services.vms.create(scope, { name: 'no-gpu', cpu_cores: 1, memory_mb: 256, disk_gb: 1 });
    const names = async (gpu_model: string) => (await cp.services.vms.list(scope, { gpu_model })).vms.map((v) => v.name).sort();
    expect(await names('A100')).toEqual(['with-a100']);
    expect(await names('mi210')).toEqual(['with-amd']);
    expect(await names('H100')).toEqual([]);
  });
});

describe('GPUs a VM holds', () => {
  it('are freed by delete', async () => {
    const { vm, operation } = await cp.services.vms.create(scope, spec('gone', { count: 2, vendor: 'amd' }));
    await settled(operation);
    expect(await freeOn('amd')).toBe(0);
    await settled((await cp.services.vms.delete(scope, vm.id)).operation);
    expect(await freeOn('amd')).toBe(2);
    expect(await holders()).toEqual([]);
  });

  it('stay with a stopped VM, unless released at stop; its next start takes them again, or fails 503 and it stays stopped', async () => {
    const { vm, operation } = await cp.services.vms.create(scope, { ...spec('gamer', { count: 1, model: 'H100' }), start: true });
    await settled(operation);
    await settled((await cp.services.vms.stop(scope, vm.id)).operation);
    expect((await cp.services.vms.get(scope, vm.id)).gpu_devices.length).toBe(1);

    await settled((await cp.services.vms.start(scope, vm.id)).operation);
    await settled((await cp.services.vms.stop(scope, vm.id, { release_gpus: true })).operation);
    const stopped = await cp.services.vms.get(scope, vm.id);
    expect([stopped.status, stopped.gpus, stopped.gpu_devices]).toEqual(['stopped', { count: 1, model: 'H100', vendor: null }, []]);
    expect(await freeOn('h100')).toBe(1);
    const sim = sims.get('h100')!;
    expect(sim.domains.get(await ref(vm.id))!.spec.gpus).toEqual([]);

    // Someone else takes the H100 meanwhile: the start is refused, naming it.
    const other = await cp.services.vms.create(scope, spec('other', { count: 1, model: 'H100' }));
    await settled(other.operation);
    await expect(cp.services.vms.start(scope, vm.id)).rejects.toMatchObject({
      code: 'INSUFFICIENT_CAPACITY',
      message: "The VM's host has 0 free H100 GPUs; it needs 1 more",
    });
    expect((await cp.services.vms.get(scope, vm.id)).status).toBe('stopped');

    await settled((await cp.services.vms.delete(scope, other.vm.id)).operation);
    const started = await cp.services.vms.start(scope, vm.id);
    expect(started.vm.gpu_devices.map((d) => d.address)).toEqual(['0000:30:00.0']);
    expect((await settled(started.operation)).status).toBe('succeeded');
    expect(sim.domains.get(await ref(vm.id))!.spec.gpus?.map((g) => g.address)).toEqual(['0000:30:00.0']);
  });

  it('change with a resize of a stopped VM: more are taken on its host, fewer freed once the domain lets go', async () => {
    const { vm, operation } = await cp.services.vms.create(scope, spec('grow', { count: 1, model: 'A100' }));
    await settled(operation);
    const grown = await cp.services.vms.update(scope, vm.id, { gpus: { count: 3, model: 'A100' } });
    expect(await freeOn('a100s')).toBe(0);
    await settled(grown.operation);
    const three = await cp.services.vms.get(scope, vm.id);
    expect([three.gpus?.count, three.gpu_devices.length]).toEqual([3, 3]);
    expect(sims.get('a100s')!.domains.get(await ref(vm.id))!.spec.gpus?.length).toBe(3);

    // More than the host has: 503, nothing changes.
    await expect(cp.services.vms.update(scope, vm.id, { gpus: { count: 4, model: 'A100' } })).rejects.toMatchObject({
      code: 'INSUFFICIENT_CAPACITY',
    });
    const shrunk = await cp.services.vms.update(scope, vm.id, { gpus: { count: 0 } });
    expect(await freeOn('a100s')).toBe(0); // still the domain's until the change is made
    await settled(shrunk.operation);
    const none = await cp.services.vms.get(scope, vm.id);
    expect([none.gpus, none.gpu_devices]).toEqual([null, []]);
    expect(await freeOn('a100s')).toBe(3);
  });

  it('a launch that finds a GPU unusable fails with the reason and marks that GPU unhealthy; the scheduler passes it by', async () => {
    const { vm, operation } = await cp.services.vms.create(scope, spec('faulty', { count: 1, model: 'H100' }));
    await settled(operation);
    sims.get('h100')!.failGpu('0000:30:00.0', 'Xid 79: GPU has fallen off the bus');
    const op = await settled((await cp.services.vms.start(scope, vm.id)).operation);
    expect(op.status).toBe('failed');
    expect(op.error).toContain('0000:30:00.0');
    expect(op.error).toContain('Xid 79: GPU has fallen off the bus');
    const [row] = await cp.services.gpus.list({ model: 'H100' });
    expect(row).toMatchObject({ health: 'unhealthy', vm_id: vm.id });
    expect(row!.health_reason).toContain('Xid 79');
    await settled((await cp.services.vms.delete(scope, vm.id)).operation);
    await expect(cp.services.vms.create(scope, spec('next', { count: 1, model: 'H100' }))).rejects.toMatchObject({
      code: 'INSUFFICIENT_CAPACITY',
    });
  });
});

describe('GPUs after an interrupted operation', () => {
  it('a start gives the domain exactly the GPUs the VM holds, whatever an interrupted operation left in it', async () => {
    const { vm, operation } = await cp.services.vms.create(scope, { ...spec('settle', { count: 1, model: 'H100' }), start: true });
    await settled(operation);
    await settled((await cp.services.vms.stop(scope, vm.id)).operation);
    // A releasing stop cancelled midway (a force stop) left the domain without its GPU, the VM still holding it.
    const driver = cp.drivers.get(vm.host_id!)!;
    await driver.reconfigure(await ref(vm.id), { gpus: [] });
    const op = await settled((await cp.services.vms.start(scope, vm.id)).operation);
    expect(op.input.gpus).toEqual([{ address: '0000:30:00.0', numa_node: 0 }]);
    expect(
      sims
        .get('h100')!
        .domains.get(await ref(vm.id))!
        .spec.gpus?.map((g) => g.address),
    ).toEqual(['0000:30:00.0']);
  });

  it('a failed hardware change frees nothing (the host may have made it); the next start keeps what the VM asks and frees the rest', async () => {
    const { vm, operation } = await cp.services.vms.create(scope, spec('grow', { count: 1, model: 'A100' }));
    await settled(operation);
    await cp.worker!.stop(0);
    const grown = await cp.services.vms.update(scope, vm.id, { gpus: { count: 2, model: 'A100' } });
    const [added] = grown.operation!.input.gpus_added as string[];
    // The host applies the change, then the operation is failed (its deadline passed, say).
    await cp.drivers.get(vm.host_id!)!.reconfigure(await ref(vm.id), { gpus: grown.operation!.input.gpus as GpuAssignment[] });
    expect(
      await finishOperation(database.db, grown.operation!, null, {
        result: 'failed',
        error: 'deadline passed',
        outcome: { status: 'stopped' },
      }),
    ).toBe(true);
    const after = await cp.services.vms.get(scope, vm.id);
    expect([after.gpus?.count, after.gpu_devices.map((d) => d.address)]).toEqual([1, ['0000:10:00.0', added]]);
    // So nobody else is given the GPU the domain still has.
    const other = await cp.services.vms.create(scope, spec('other', { count: 1, model: 'A100' }));
    expect(other.vm.gpu_devices.map((d) => d.address)).not.toContain(added);

    const start = await cp.services.vms.start(scope, vm.id);
    expect([start.operation!.input.gpus, start.operation!.input.gpus_dropped]).toEqual([
      [{ address: '0000:10:00.0', numa_node: 0 }],
      [added],
    ]);
    expect(await finishOperation(database.db, start.operation!, null, { result: 'succeeded', outcome: { status: 'running' } })).toBe(true);
    expect((await cp.services.vms.get(scope, vm.id)).gpu_devices.map((d) => d.address)).toEqual(['0000:10:00.0']);
    expect(await freeOn('a100s')).toBe(1);
  });

  it('counts GPUs a change takes before those it lets go against the quota (a swap needs room for both)', async () => {
    const amd = cp.hosts.find((h) => h.name === 'amd')!;
    await refreshInventory(database.db, amd.id, {
      capacity: { cpus: 64, memory_mb: 262_144, disk_gb: 4096 },
      gpus: [HOSTS.amd![0]!, gpu(0x22, H100, 0)],
    });
    const { vm, operation } = await cp.services.vms.create(scope, spec('swap', { count: 1, vendor: 'amd' }));
    await settled(operation);
    await cp.services.projects.set_quotas(scope.project_id, { gpus: 1 });
    await expect(cp.services.vms.update(scope, vm.id, { gpus: { count: 1, model: 'H100' } })).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      details: { quota: 'gpus', used: 1, requested: 1 },
    });
    expect((await cp.services.vms.get(scope, vm.id)).gpu_devices.map((d) => d.address)).toEqual(['0000:20:00.0']);
  });

  it('finds a VM that released its GPUs by the id it asked for, however it was written', async () => {
    const { vm, operation } = await cp.services.vms.create(scope, { ...spec('by-id', { count: 1, model: '0x10DE:0x2330' }), start: true });
    expect(vm.gpus).toEqual({ count: 1, model: '10de:2330', vendor: null });
    await settled(operation);
    await settled((await cp.services.vms.stop(scope, vm.id, { release_gpus: true })).operation);
    expect((await cp.services.vms.list(scope, { gpu_model: '10de:2330' })).vms.map((v) => v.name)).toEqual(['by-id']);
  });
});

async function ref(vmId: string): Promise<string> {
  const [row] = await database.sql`SELECT domain_ref FROM vms WHERE id = ${vmId}`;
  return row!.domain_ref as string;
}
