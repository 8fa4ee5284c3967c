import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isBridgeClass, isPciAddress, linkName, pciDeviceDir, readAttr, slotOf, VFIO_DRIVER } from './sysfs.js';

/** Whether the kernel runs an IOMMU: without one it makes no groups at all. */
export async function iommuEnabled(sysfsRoot: string): Promise<boolean> {
  try {
    return (await readdir(join(sysfsRoot, 'kernel/iommu_groups'))).length > 0;
  } catch {
    return false;
  }
}

/** A device of a GPU's IOMMU group, other than the GPU, and what it means for passthrough. */
export interface GroupMember {
  address: string;
  driver: string | null;
  /**
   * `companion`: another function of the GPU's card (its HDMI audio), passed through with it.
   * `bridge`: a PCI bridge, which stays with the host. `idle`: another card that no host driver
   * holds (unbound or on vfio-pci). `foreign`: another card a host driver holds, which keeps
   * the whole group from VFIO.
   */
  role: 'companion' | 'bridge' | 'idle' | 'foreign';
}

export interface IommuGroup {
  id: number;
  /** Every device of the group but the GPU, by address. */
  members: GroupMember[];
}

/** The GPU's IOMMU group and its other devices; null when the device has none. */
export async function iommuGroupOf(sysfsRoot: string, address: string): Promise<IommuGroup | null> {
  const id = await linkName(join(pciDeviceDir(sysfsRoot, address), 'iommu_group'));
  if (id === null || !/^\d+$/.test(id)) return null;
  const devicesDir = join(sysfsRoot, 'kernel/iommu_groups', id, 'devices');
  const names = (await readdir(devicesDir).catch(() => [] as string[])).filter((n) => n !== address).sort();
  const members = await Promise.all(
    names.map(async (name): Promise<GroupMember> => {
      const dir = join(devicesDir, name);
      const driver = await linkName(join(dir, 'driver'));
      // Non-PCI members (platform devices on some machines) are judged by their driver alone.
      const pci = isPciAddress(name);
      if (pci && isBridgeClass(await readAttr(join(dir, 'class')))) return { address: name, driver, role: 'bridge' };
      if (pci && slotOf(name) === slotOf(address)) return { address: name, driver, role: 'companion' };
      return { address: name, driver, role: driver === null || driver === VFIO_DRIVER ? 'idle' : 'foreign' };
    }),
  );
  return { id: Number(id), members };
}
