import { readdir, readFile, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { GpuDevice } from '../../domain/host.js';

/** PCI vendor ids of display controllers, by name. */
export const PCI_VENDORS: Record<string, string> = {
  '0x10de': 'NVIDIA',
  '0x1002': 'AMD',
  '0x8086': 'Intel',
  '0x1a03': 'ASPEED',
  '0x102b': 'Matrox',
  '0x15ad': 'VMware',
  '0x1234': 'QEMU',
  '0x1af4': 'Red Hat (virtio)',
};

async function text(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

async function linkName(path: string): Promise<string | null> {
  try {
    return basename(await readlink(path));
  } catch {
    return null;
  }
}

/**
 * GPUs on the host's PCI bus: every device of class 0x03xxxx (display controllers, which
 * include NVIDIA's 3D controllers) under `<sysfs>/bus/pci/devices`. `sysfsRoot` is a
 * parameter so tests can point it at a fixture tree.
 */
export async function scanGpus(sysfsRoot = '/sys'): Promise<GpuDevice[]> {
  const base = join(sysfsRoot, 'bus/pci/devices');
  let entries: string[];
  try {
    entries = await readdir(base);
  } catch {
    return [];
  }
  const found: GpuDevice[] = [];
  for (const address of entries.sort()) {
    const dir = join(base, address);
    const cls = await text(join(dir, 'class'));
    if (!cls || !/^0x03[0-9a-f]{4}$/i.test(cls)) continue;
    const vendor_id = (await text(join(dir, 'vendor')))?.toLowerCase() ?? 'unknown';
    const numa = await text(join(dir, 'numa_node'));
    const group = await linkName(join(dir, 'iommu_group'));
    found.push({
      address,
      vendor_id,
      device_id: (await text(join(dir, 'device')))?.toLowerCase() ?? 'unknown',
      vendor: PCI_VENDORS[vendor_id] ?? null,
      driver: await linkName(join(dir, 'driver')),
      iommu_group: group !== null && /^\d+$/.test(group) ? Number(group) : null,
      // The kernel writes -1 when the device has no NUMA affinity.
      numa_node: numa !== null && /^\d+$/.test(numa) ? Number(numa) : null,
    });
  }
  return found;
}
