import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { GpuDevice } from '../../domain/gpu.js';
import { checkPassthrough, problemsReason, remainingProblems } from './passthrough-checks.js';
import { memoryFromName, pciNames } from './pci-ids.js';
import { oneGpuPerGroup } from './shared-groups.js';
import { isDisplayClass, linkName, readAttr } from './sysfs.js';

export interface ScanOptions {
  /** Where /dev is, for /dev/vfio/N (a fixture directory in tests). */
  devRoot?: string;
  /** Hangar rebinds GPUs at start (HANGAR_QEMU_GPU_REBIND): one on another driver is still usable. */
  rebind?: boolean;
}

/**
 * GPUs on the host's PCI bus: every device of class 0x03xxxx (display controllers, which
 * include NVIDIA's 3D controllers) under `<sysfs>/bus/pci/devices`, named from the PCI ids
 * database, each healthy or not by the host-side checks of passthrough (the VM's memory
 * limit is a start's own check). `sysfsRoot` is a parameter so tests can point it at a
 * fixture tree.
 */
export async function scanGpus(sysfsRoot = '/sys', opts: ScanOptions = {}): Promise<GpuDevice[]> {
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
    if (!isDisplayClass(await readAttr(join(dir, 'class')))) continue;
    const vendor_id = (await readAttr(join(dir, 'vendor')))?.toLowerCase() ?? 'unknown';
    const device_id = (await readAttr(join(dir, 'device')))?.toLowerCase() ?? 'unknown';
    const numa = await readAttr(join(dir, 'numa_node'));
    const group = await linkName(join(dir, 'iommu_group'));
    const names = pciNames(vendor_id, device_id);
    const check = await checkPassthrough(address, { sysfsRoot, devRoot: opts.devRoot ?? '/dev' });
    const problems = remainingProblems(check, opts.rebind ?? false);
    found.push({
      address,
      vendor_id,
      device_id,
      vendor: names.vendor,
      model: names.model,
      memory_mb: memoryFromName(names.model),
      driver: await linkName(join(dir, 'driver')),
      iommu_group: group !== null && /^\d+$/.test(group) ? Number(group) : null,
      // The kernel writes -1 when the device has no NUMA affinity.
      numa_node: numa !== null && /^\d+$/.test(numa) ? Number(numa) : null,
      health: problems.length === 0 ? 'healthy' : 'unhealthy',
      health_reason: problems.length === 0 ? null : problemsReason(problems),
    });
  }
  return oneGpuPerGroup(found);
}
