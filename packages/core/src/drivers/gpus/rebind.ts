import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DriverError } from '../driver.js';
import { linkName, pciDeviceDir, VFIO_DRIVER } from './sysfs.js';

/** One store into a sysfs attribute (a parameter so a test can see each in order). */
export type SysfsWrite = (path: string, value: string) => Promise<void>;

const writeAttr: SysfsWrite = (path, value) => writeFile(path, value);

/**
 * Hands devices to vfio-pci the way the kernel documents it: `driver_override` makes vfio-pci
 * the only driver that may take the device, the current driver lets go of it, and a probe
 * binds it again (to vfio-pci now). A device already on vfio-pci is left alone. Callers pass
 * only a GPU and the other functions of its card, never another device of its IOMMU group.
 */
export async function rebindToVfio(sysfsRoot: string, addresses: string[], write: SysfsWrite = writeAttr): Promise<void> {
  for (const address of addresses) {
    const dir = pciDeviceDir(sysfsRoot, address);
    const driver = await linkName(join(dir, 'driver'));
    if (driver === VFIO_DRIVER) continue;
    const store = async (path: string, value: string) => {
      try {
        await write(path, value);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new DriverError(
          'failed',
          `cannot rebind ${address} to vfio-pci: writing ${value} to ${path} failed (${e.code ?? e.message})` +
            (e.code === 'EACCES' || e.code === 'EPERM' ? '; rebinding needs root' : ''),
        );
      }
    };
    await store(join(dir, 'driver_override'), VFIO_DRIVER);
    if (driver !== null) await store(join(dir, 'driver/unbind'), address);
    await store(join(sysfsRoot, 'bus/pci/drivers_probe'), address);
  }
}
