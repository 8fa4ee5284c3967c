import { access, readFile, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PciAddress } from '../../domain/gpu.js';

/** The driver that hands a device to QEMU. */
export const VFIO_DRIVER = 'vfio-pci';

/** A PCI device's directory: `<sysfs>/bus/pci/devices/<address>`, the kernel's link to it. */
export const pciDeviceDir = (sysfsRoot: string, address: string) => join(sysfsRoot, 'bus/pci/devices', address);

/** An attribute's value, trimmed; null when it cannot be read (absent on this kernel or device). */
export async function readAttr(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

/** The name a sysfs link leads to (`driver` → `vfio-pci`, `iommu_group` → `42`); null without one. */
export async function linkName(path: string): Promise<string | null> {
  try {
    return basename(await readlink(path));
  } catch {
    return null;
  }
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Addresses are joined into sysfs paths and written into sysfs files: anything but a plain
 * `0000:3b:00.0` could walk out of `bus/pci/devices` (`../../..`), so it never gets that far.
 */
export const isPciAddress = (address: string) => PciAddress.safeParse(address).success;

/** `0000:3b:00.1` → `0000:3b:00`: the functions of one card share it. */
export const slotOf = (address: string) => address.slice(0, address.lastIndexOf('.'));

/** Class 0x0604xx: PCI-to-PCI bridges, which stay with the host without keeping the group from VFIO. */
export const isBridgeClass = (cls: string | null) => cls !== null && /^0x0604[0-9a-f]{2}$/i.test(cls);

/** Class 0x03xxxx: display controllers (VGA, 3D: NVIDIA's data-centre parts, AMD's Instinct). */
export const isDisplayClass = (cls: string | null) => cls !== null && /^0x03[0-9a-f]{4}$/i.test(cls);

/** The device the firmware put the host's console on (`boot_vga`): never taken from the host. */
export async function isBootDisplay(sysfsRoot: string, address: string): Promise<boolean> {
  return (await readAttr(join(pciDeviceDir(sysfsRoot, address), 'boot_vga'))) === '1';
}

/** Why a boot display is not offered. */
export const bootDisplayReason = (address: string, driver: string | null) =>
  `${address} is the host's boot display (${driver ?? 'no driver'}): Hangar does not take it from the host; pass through another GPU`;
