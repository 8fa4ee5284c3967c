import { join } from 'node:path';
import { z } from 'zod';
import { defineDriver } from '../definition.js';

/** QEMU, one process per VM on this machine. */
export const qemuDefinition = defineDriver({
  description: 'QEMU processes on this machine, one per VM, driven over QMP',
  settings: z.object({
    HANGAR_QEMU_BINARY: z.string().min(1).default('qemu-system-x86_64'),
    HANGAR_QEMU_IMG: z.string().min(1).default('qemu-img'),
    HANGAR_QEMU_ACCEL: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
    /** A kernel every VM boots from directly (appliances; the tests' tiny guest). */
    HANGAR_QEMU_KERNEL: z.string().optional(),
    HANGAR_QEMU_INITRD: z.string().optional(),
    HANGAR_QEMU_APPEND: z.string().optional(),
    /** Where sysfs is mounted, for the GPU scan (a fixture tree in tests). */
    HANGAR_SYSFS_ROOT: z.string().default('/sys'),
    /**
     * Hangar may take a VM's GPUs (and their cards' audio functions) from their host driver and
     * bind them to vfio-pci at start. Off by default: the host's driver setup is the admin's.
     */
    HANGAR_QEMU_GPU_REBIND: z.stringbool().default(false),
  }),
  // The driver's module is loaded only when it is chosen (see `DriverDefinition.create`).
  create: async (s, ctx) => {
    const { QemuDriver } = await import('./driver.js');
    return new QemuDriver({
      root: join(ctx.data_dir, 'vms'),
      binary: s.HANGAR_QEMU_BINARY,
      qemuImg: s.HANGAR_QEMU_IMG,
      accel: s.HANGAR_QEMU_ACCEL,
      sysfsRoot: s.HANGAR_SYSFS_ROOT,
      gpuRebind: s.HANGAR_QEMU_GPU_REBIND,
      ...(s.HANGAR_QEMU_KERNEL
        ? { boot: { kernel: s.HANGAR_QEMU_KERNEL, initrd: s.HANGAR_QEMU_INITRD, append: s.HANGAR_QEMU_APPEND } }
        : {}),
    });
  },
});
