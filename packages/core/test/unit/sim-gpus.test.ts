import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DomainSpec, DriverError, type GpuAssignment, GpuPreflightError } from '../../src/drivers/driver.js';
import { createDriver, readDriverSettings } from '../../src/drivers/registry.js';
import { SimulatedDriver } from '../../src/drivers/simulated/driver.js';
import { MAX_SIM_GPUS, simGpus } from '../../src/drivers/simulated/gpus.js';

// The simulated host's GPUs: the setting that gives it some, and the checks its starts make
// as a real host's VFIO would.

const spec = (name: string, gpus?: GpuAssignment[]): DomainSpec => ({
  vm_id: randomUUID(),
  name,
  cpu_cores: 1,
  memory_mb: 512,
  disk_gb: 1,
  os_type: 'linux',
  network: { type: 'nat', bridge_name: null, mac_address: null, ip_address: null },
  vnc_enabled: false,
  ...(gpus ? { gpus } : {}),
});
const gpu = (address: string, numa_node: number | null = 0): GpuAssignment => ({ address, numa_node });

/** The error a call ended with (null when it succeeded). */
const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

describe('HANGAR_SIM_GPUS', () => {
  const settings = (value: string | undefined) => readDriverSettings('simulated', { HANGAR_SIM_GPUS: value });

  it('makes one GPU per entry, as a host reports it, on the NUMA node given', () => {
    const r = settings('10de:20b0, 10DE:20B5@1');
    expect(r.ok).toBe(true);
    expect((r as { settings: { HANGAR_SIM_GPUS: unknown } }).settings.HANGAR_SIM_GPUS).toEqual([
      {
        address: '0000:10:00.0',
        vendor_id: '0x10de',
        device_id: '0x20b0',
        vendor: 'NVIDIA Corporation',
        model: 'GA100 [A100 SXM4 40GB]',
        memory_mb: 40960,
        driver: 'vfio-pci',
        iommu_group: 16,
        numa_node: 0,
        health: 'healthy',
        health_reason: null,
      },
      {
        address: '0000:11:00.0',
        vendor_id: '0x10de',
        device_id: '0x20b5',
        vendor: 'NVIDIA Corporation',
        model: 'GA100 [A100 PCIe 80GB]',
        memory_mb: 81920,
        driver: 'vfio-pci',
        iommu_group: 17,
        numa_node: 1,
        health: 'healthy',
        health_reason: null,
      },
    ]);
  });

  it('gives each GPU its own bus and IOMMU group, and knows ids the database does not only by their ids', () => {
    const gpus = simGpus(Array(MAX_SIM_GPUS).fill('10de:20b0').join(','));
    expect(new Set(gpus.map((g) => g.address)).size).toBe(MAX_SIM_GPUS);
    expect(new Set(gpus.map((g) => g.iommu_group)).size).toBe(MAX_SIM_GPUS);
    expect(gpus.at(-1)?.address).toBe('0000:ff:00.0');
    expect(simGpus('0002:ef01@3')).toEqual([expect.objectContaining({ vendor: null, model: null, memory_mb: null, numa_node: 3 })]);
    expect(simGpus('')).toEqual([]);
  });

  it('stops the start on a bad value, naming the setting and the entry', () => {
    for (const bad of [
      'nvidia',
      '10de',
      '10de:20b0@',
      '10de:20b0@x',
      '10de:20b0@1025',
      '10de:20b0,,10de:20b0',
      '10de:20b0,',
      '0x10de:0x20b0',
      '10de:20b0;reboot',
    ]) {
      const r = settings(bad);
      expect(r.ok, bad).toBe(false);
      const issues = (r as { issues: string[] }).issues;
      expect(issues.join('\n')).toMatch(/^HANGAR_SIM_GPUS: HANGAR_SIM_GPUS entry ".*" is not a PCI vendor:device id/);
    }
    const many = settings(
      Array(MAX_SIM_GPUS + 1)
        .fill('10de:20b0')
        .join(','),
    );
    expect((many as { issues: string[] }).issues).toEqual([
      `HANGAR_SIM_GPUS: HANGAR_SIM_GPUS lists 241 GPUs; a simulated host has at most 240`,
    ]);
  });

  it('gives the simulated host those GPUs', async () => {
    const r = settings('10de:20b0,10de:20b0@1');
    if (!r.ok) throw new Error(r.issues.join('; '));
    const dir = await mkdtemp(join(tmpdir(), 'hangar-sim-gpus-'));
    try {
      const driver = await createDriver('simulated', r.settings, { data_dir: dir });
      expect((await driver.inventory()).gpus.map((g) => [g.address, g.numa_node])).toEqual([
        ['0000:10:00.0', 0],
        ['0000:11:00.0', 1],
      ]);
      await driver.close?.();
      const none = readDriverSettings('simulated', {});
      expect(
        (await (await createDriver('simulated', (none as { settings: unknown }).settings, { data_dir: dir })).inventory()).gpus,
      ).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a simulated host with GPUs', () => {
  const GPUS = simGpus('10de:20b0,10de:20b0,10de:20b0@1');
  const [A, B, C] = GPUS.map((g) => g.address) as [string, string, string];
  const host = () => new SimulatedDriver({ config: { gpus: GPUS } });

  it('starts a domain with its GPUs, and one without any', async () => {
    const driver = host();
    const withGpus = await driver.define(spec('two', [gpu(A), gpu(B)]));
    const without = await driver.define(spec('none', []));
    await driver.start(withGpus.ref);
    await driver.start(without.ref);
    expect(await driver.state(withGpus.ref)).toBe('running');
    expect(await driver.state(without.ref)).toBe('running');
  });

  it('refuses a start with GPUs the host does not have, naming each', async () => {
    const driver = host();
    const { ref } = await driver.define(spec('ghost', [gpu(A), gpu('0000:99:00.0'), gpu('0000:98:00.0')]));
    const err = await failure(driver.start(ref));
    expect(err).toBeInstanceOf(GpuPreflightError);
    expect(err).toBeInstanceOf(DriverError);
    expect(err).toMatchObject({
      kind: 'failed',
      faults: [
        { address: '0000:99:00.0', reason: 'the host has no such GPU' },
        { address: '0000:98:00.0', reason: 'the host has no such GPU' },
      ],
    });
    expect((err as Error).message).toMatch(/0000:99:00\.0: the host has no such GPU; 0000:98:00\.0/);
    expect(await driver.state(ref)).toBe('stopped');
  });

  it('reports a failed GPU unhealthy and refuses to start with it until it is healed', async () => {
    const driver = host();
    const { ref } = await driver.define(spec('faulty', [gpu(C, 1)]));
    driver.hypervisor.failGpu(C, 'fell off the bus (Xid 79)');
    const inventory = await driver.inventory();
    expect(inventory.gpus.find((g) => g.address === C)).toMatchObject({ health: 'unhealthy', health_reason: 'fell off the bus (Xid 79)' });
    expect(inventory.gpus.filter((g) => g.health === 'healthy').map((g) => g.address)).toEqual([A, B]);
    expect(await failure(driver.start(ref))).toMatchObject({ faults: [{ address: C, reason: 'fell off the bus (Xid 79)' }] });
    expect(await driver.state(ref)).toBe('stopped');

    driver.hypervisor.healGpu(C);
    expect((await driver.inventory()).gpus.find((g) => g.address === C)).toMatchObject({ health: 'healthy', health_reason: null });
    await driver.start(ref);
    expect(await driver.state(ref)).toBe('running');
  });

  it('refuses a GPU another running or paused domain holds (the VFIO device is busy)', async () => {
    const driver = host();
    const holder = await driver.define(spec('holder', [gpu(A)]));
    const other = await driver.define(spec('other', [gpu(B), gpu(A)]));
    await driver.start(holder.ref);
    expect(await failure(driver.start(other.ref))).toMatchObject({
      faults: [{ address: A, reason: `the device is busy: domain ${holder.ref} holds it` }],
    });
    await driver.pause(holder.ref);
    expect(await failure(driver.start(other.ref))).toBeInstanceOf(GpuPreflightError);
    await driver.kill(holder.ref);
    await driver.start(other.ref);
    expect(await driver.state(other.ref)).toBe('running');
    // A domain already running is not checked again: starting it is done.
    await driver.start(other.ref);
  });

  it('replaces the GPUs on reconfigure, and keeps them through other changes', async () => {
    const driver = host();
    const { ref } = await driver.define(spec('moved', [gpu('0000:99:00.0')]));
    await driver.reconfigure(ref, { memory_mb: 1024, gpus: undefined });
    expect(await failure(driver.start(ref))).toBeInstanceOf(GpuPreflightError);
    await driver.reconfigure(ref, { gpus: [gpu(B)] });
    await driver.start(ref);
    await driver.kill(ref);
    const user = await driver.define(spec('user', [gpu(B)]));
    await driver.start(user.ref);
    expect(await failure(driver.start(ref))).toBeInstanceOf(GpuPreflightError);
    await driver.reconfigure(ref, { gpus: [] });
    await driver.start(ref);
    expect(await driver.state(ref)).toBe('running');
  });

  describe('across a restart', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'hangar-sim-gpus-'));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('keeps each domain’s GPUs in its state file', async () => {
      const state_dir = join(dir, 'simulator');
      const first = new SimulatedDriver({ config: { state_dir, gpus: GPUS } });
      const held = await first.define(spec('held', [gpu(A)]));
      await first.start(held.ref);
      const waiting = await first.define(spec('waiting', [gpu(A)]));
      await first.close();
      const second = new SimulatedDriver({ config: { state_dir, gpus: GPUS } });
      expect(await failure(second.start(waiting.ref))).toMatchObject({ faults: [{ address: A, reason: expect.stringMatching(/busy/) }] });
      await second.kill(held.ref);
      await second.start(waiting.ref);
    });
  });
});
