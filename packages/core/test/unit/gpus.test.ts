import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QemuDriver, scanGpus } from '../../src/index.js';

/** A sysfs tree as the kernel lays it out, with two GPUs among other PCI devices. */
async function fixture(root: string): Promise<void> {
  const device = async (
    addr: string,
    f: { vendor: string; device: string; class: string; driver?: string; group?: number; numa?: string },
  ) => {
    const real = join(root, 'devices/pci0000:00', addr);
    await mkdir(real, { recursive: true });
    await writeFile(join(real, 'vendor'), `${f.vendor}\n`);
    await writeFile(join(real, 'device'), `${f.device}\n`);
    await writeFile(join(real, 'class'), `${f.class}\n`);
    if (f.numa !== undefined) await writeFile(join(real, 'numa_node'), `${f.numa}\n`);
    if (f.driver) {
      await mkdir(join(root, 'bus/pci/drivers', f.driver), { recursive: true });
      await symlink(join(root, 'bus/pci/drivers', f.driver), join(real, 'driver'));
    }
    if (f.group !== undefined) {
      await mkdir(join(root, 'kernel/iommu_groups', String(f.group)), { recursive: true });
      await symlink(join(root, 'kernel/iommu_groups', String(f.group)), join(real, 'iommu_group'));
    }
    await mkdir(join(root, 'bus/pci/devices'), { recursive: true });
    await symlink(real, join(root, 'bus/pci/devices', addr));
  };
  await device('0000:00:01.0', { vendor: '0x8086', device: '0x1237', class: '0x060000' }); // host bridge
  await device('0000:3b:00.0', { vendor: '0x10de', device: '0x2330', class: '0x030200', driver: 'vfio-pci', group: 42, numa: '1' });
  await device('0000:5e:00.0', { vendor: '0x1002', device: '0x740f', class: '0x038000', driver: 'amdgpu', group: 7, numa: '-1' });
  await device('0000:00:1f.2', { vendor: '0x8086', device: '0x2922', class: '0x010601', driver: 'ahci', group: 3 }); // SATA
}

describe('GPU inventory from sysfs', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'hangar-sysfs-'));
    await fixture(root);
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('lists display-class PCI devices with their driver, IOMMU group and NUMA node', async () => {
    expect(await scanGpus(root)).toEqual([
      {
        address: '0000:3b:00.0',
        vendor_id: '0x10de',
        device_id: '0x2330',
        vendor: 'NVIDIA',
        driver: 'vfio-pci',
        iommu_group: 42,
        numa_node: 1,
      },
      {
        address: '0000:5e:00.0',
        vendor_id: '0x1002',
        device_id: '0x740f',
        vendor: 'AMD',
        driver: 'amdgpu',
        iommu_group: 7,
        numa_node: null,
      },
    ]);
  });

  it('finds none where there is no PCI bus', async () => {
    expect(await scanGpus(join(root, 'nowhere'))).toEqual([]);
  });

  it('is part of the QEMU driver inventory, with the host CPUs, memory and free disk', async () => {
    const driver = new QemuDriver({ root: join(root, 'vms'), sysfsRoot: root, binary: '/nonexistent/qemu-system-x86_64' });
    const inv = await driver.inventory();
    expect(inv.gpus.map((g) => g.address)).toEqual(['0000:3b:00.0', '0000:5e:00.0']);
    expect(inv.capacity.cpus).toBeGreaterThan(0);
    expect(inv.capacity.memory_mb).toBeGreaterThan(0);
    expect(inv.capacity.disk_gb).toBeGreaterThanOrEqual(0);
    // No QEMU binary: the host reports why it cannot run VMs.
    expect(inv.unavailable).toBe('/nonexistent/qemu-system-x86_64 not found (install the qemu-system-x86 package)');
    await driver.close();
  });
});
