import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuDevice } from '../../src/domain/gpu.js';
import { QemuDriver } from '../../src/drivers/qemu/driver.js';
import { scanGpus } from '../../src/index.js';
import { buildSysfsFixture, type SysfsFixture } from '../../src/testing/sysfs-fixture.js';

// The scan names GPUs from the host's PCI ids database (/usr/share/misc/pci.ids, the pci.ids
// package: installed here and in CI) and judges each by the passthrough checks.

const REBIND = 'bind it to vfio-pci (or let Hangar rebind: HANGAR_QEMU_GPU_REBIND=true)';
const BOOT_VGA = "0000:02:00.0 is the host's boot display (ast): Hangar does not take it from the host; pass through another GPU";
const T4_FOREIGN =
  '0000:af:00.0 shares IOMMU group 9 with 0000:b0:00.0, which the host uses (bound to e1000e): the group goes to QEMU whole; ' +
  'unbind 0000:b0:00.0 from e1000e, or move the GPU to a slot with its own IOMMU group';

describe('GPU inventory from sysfs', () => {
  let root: string;
  let fx: SysfsFixture;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'hangar-sysfs-'));
    fx = await buildSysfsFixture(root);
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('lists display-class PCI devices with their names, memory, driver, IOMMU group, NUMA node and health', async () => {
    expect(await scanGpus(fx.sysfsRoot, { devRoot: fx.devRoot })).toEqual([
      {
        address: '0000:02:00.0',
        vendor_id: '0x1a03',
        device_id: '0x2000',
        vendor: 'ASPEED Technology, Inc.',
        model: 'ASPEED Graphics Family',
        memory_mb: null,
        driver: 'ast',
        iommu_group: 20,
        numa_node: null,
        health: 'unhealthy',
        health_reason: BOOT_VGA,
      },
      {
        address: '0000:3b:00.0',
        vendor_id: '0x10de',
        device_id: '0x20b0',
        vendor: 'NVIDIA Corporation',
        model: 'GA100 [A100 SXM4 40GB]',
        memory_mb: 40960,
        driver: 'vfio-pci',
        iommu_group: 42,
        numa_node: 1,
        health: 'healthy',
        health_reason: null,
      },
      {
        address: '0000:5e:00.0',
        vendor_id: '0x10de',
        device_id: '0x2204',
        vendor: 'NVIDIA Corporation',
        model: 'GA102 [GeForce RTX 3090]',
        memory_mb: null,
        driver: 'nvidia',
        iommu_group: 17,
        numa_node: 0,
        health: 'unhealthy',
        health_reason:
          `0000:5e:00.0 is bound to nvidia, not vfio-pci: ${REBIND}; ` +
          `0000:5e:00.1, passed through with 0000:5e:00.0 (a function of the same card, IOMMU group 17), is bound to snd_hda_intel, not vfio-pci: ${REBIND}`,
      },
      {
        address: '0000:86:00.0',
        vendor_id: '0x1002',
        device_id: '0x740f',
        vendor: 'Advanced Micro Devices, Inc. [AMD/ATI]',
        model: 'Aldebaran/MI200 [Instinct MI210]',
        memory_mb: null,
        driver: 'vfio-pci',
        iommu_group: 7,
        // The kernel's -1: no NUMA affinity.
        numa_node: null,
        health: 'healthy',
        health_reason: null,
      },
      {
        address: '0000:af:00.0',
        vendor_id: '0x10de',
        device_id: '0x1eb8',
        vendor: 'NVIDIA Corporation',
        model: 'TU104GL [Tesla T4]',
        memory_mb: null,
        driver: 'nvidia',
        iommu_group: 9,
        numa_node: 1,
        health: 'unhealthy',
        health_reason: `0000:af:00.0 is bound to nvidia, not vfio-pci: ${REBIND}; ${T4_FOREIGN}`,
      },
    ]);
  });

  it('reports what the inventory schema accepts', async () => {
    for (const gpu of await scanGpus(fx.sysfsRoot, { devRoot: fx.devRoot })) expect(GpuDevice.parse(gpu)).toEqual(gpu);
  });

  it('counts a GPU on another driver healthy when Hangar may rebind it, but never one the host holds otherwise', async () => {
    const health = Object.fromEntries(
      (await scanGpus(fx.sysfsRoot, { devRoot: fx.devRoot, rebind: true })).map((g) => [g.address, [g.health, g.health_reason]]),
    );
    expect(health).toEqual({
      '0000:02:00.0': ['unhealthy', BOOT_VGA],
      '0000:3b:00.0': ['healthy', null],
      '0000:5e:00.0': ['healthy', null],
      '0000:86:00.0': ['healthy', null],
      '0000:af:00.0': ['unhealthy', T4_FOREIGN],
    });
  });

  it('finds every GPU unhealthy on a host without an IOMMU', async () => {
    const bare = await buildSysfsFixture(join(root, 'no-iommu'), { iommu: false });
    const gpus = await scanGpus(bare.sysfsRoot, { devRoot: bare.devRoot, rebind: true });
    expect(gpus.map((g) => [g.address, g.iommu_group, g.health])).toEqual([
      ['0000:02:00.0', null, 'unhealthy'],
      ['0000:3b:00.0', null, 'unhealthy'],
      ['0000:5e:00.0', null, 'unhealthy'],
      ['0000:86:00.0', null, 'unhealthy'],
      ['0000:af:00.0', null, 'unhealthy'],
    ]);
    expect(gpus[1]!.health_reason).toBe(
      `0000:3b:00.0 cannot be passed through: the IOMMU is off (${bare.sysfsRoot}/kernel/iommu_groups is empty); ` +
        'turn on VT-d or AMD-Vi in the firmware and boot with intel_iommu=on (Intel) or amd_iommu=on (AMD)',
    );
  });

  it('finds none where there is no PCI bus', async () => {
    expect(await scanGpus(join(root, 'nowhere'))).toEqual([]);
  });

  it('is part of the QEMU driver inventory, with the host CPUs, memory and free disk', async () => {
    const driver = new QemuDriver({
      root: join(root, 'vms'),
      sysfsRoot: fx.sysfsRoot,
      devRoot: fx.devRoot,
      binary: '/nonexistent/qemu-system-x86_64',
    });
    const inv = await driver.inventory();
    expect(inv.gpus.map((g) => [g.address, g.health])).toEqual([
      ['0000:02:00.0', 'unhealthy'],
      ['0000:3b:00.0', 'healthy'],
      ['0000:5e:00.0', 'unhealthy'],
      ['0000:86:00.0', 'healthy'],
      ['0000:af:00.0', 'unhealthy'],
    ]);
    expect(inv.capacity.cpus).toBeGreaterThan(0);
    expect(inv.capacity.memory_mb).toBeGreaterThan(0);
    expect(inv.capacity.disk_gb).toBeGreaterThanOrEqual(0);
    // No QEMU binary: the host reports why it cannot run VMs.
    expect(inv.unavailable).toBe('/nonexistent/qemu-system-x86_64 not found (install the qemu-system-x86 package)');
    await driver.close();
  });

  it('judges GPUs by the rebind setting in the QEMU driver inventory', async () => {
    const driver = new QemuDriver({
      root: join(root, 'vms-rebind'),
      sysfsRoot: fx.sysfsRoot,
      devRoot: fx.devRoot,
      gpuRebind: true,
      binary: '/nonexistent/qemu-system-x86_64',
    });
    expect((await driver.inventory()).gpus.find((g) => g.address === '0000:5e:00.0')?.health).toBe('healthy');
    await driver.close();
  });
});
