import type { GpuDevice } from '../../domain/gpu.js';
import { bootDisplayReason, isBootDisplay, VFIO_DRIVER } from './sysfs.js';

/**
 * The host's boot display (its console, often a BMC's video chip) is never offered: a GPU with
 * `boot_vga` that a host driver holds is unhealthy, saying why. One an operator bound to
 * vfio-pci on purpose is theirs to give.
 */
export async function markBootDisplay(gpus: GpuDevice[], sysfsRoot: string): Promise<GpuDevice[]> {
  return Promise.all(
    gpus.map(async (g) =>
      g.driver !== VFIO_DRIVER && (await isBootDisplay(sysfsRoot, g.address))
        ? { ...g, health: 'unhealthy' as const, health_reason: bootDisplayReason(g.address, g.driver) }
        : g,
    ),
  );
}
