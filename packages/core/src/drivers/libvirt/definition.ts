import { join } from 'node:path';
import { z } from 'zod';
import { defineDriver } from '../definition.js';
import { parseLibvirtUri } from './rpc/transport.js';

/** libvirtd, local or remote, spoken to over its RPC protocol. */
export const libvirtDefinition = defineDriver({
  description: 'libvirtd (local socket, qemu+tcp or qemu+ssh): persistent domains with Hangar metadata',
  settings: z.object({
    HANGAR_LIBVIRT_URI: z
      .string()
      .default('qemu:///system')
      .superRefine((uri, ctx) => {
        try {
          parseLibvirtUri(uri);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      }),
    /** `kvm` only where KVM runs guests: `auto` probes as the QEMU driver does. */
    HANGAR_LIBVIRT_DOMAIN_TYPE: z.enum(['auto', 'kvm', 'qemu']).default('auto'),
    /** The storage pool of VMs' disks (made where it does not exist, as a directory pool at HANGAR_LIBVIRT_IMAGE_DIR). */
    HANGAR_LIBVIRT_POOL: z.string().min(1).default('hangar'),
    /** The pool's directory on the libvirt host: disks and console logs. */
    HANGAR_LIBVIRT_IMAGE_DIR: z.string().min(1).default('/var/lib/libvirt/images/hangar'),
    /** Bridges VMs may join, comma-separated (none by default: libvirt would attach a VM to any bridge it is named). */
    HANGAR_LIBVIRT_BRIDGES: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((b) => b.trim())
          .filter(Boolean),
      ),
    /** The libvirt network NAT VMs join. */
    HANGAR_LIBVIRT_NETWORK: z.string().min(1).default('default'),
    /** A kernel every VM boots from directly (appliances; the tests' tiny guest). */
    HANGAR_LIBVIRT_KERNEL: z.string().optional(),
    HANGAR_LIBVIRT_INITRD: z.string().optional(),
    HANGAR_LIBVIRT_APPEND: z.string().optional(),
  }),
  // The driver's module, with the XML libraries, is loaded only when it is chosen.
  create: async (s, ctx) => {
    const { LibvirtDriver } = await import('./driver.js');
    return new LibvirtDriver({
      uri: s.HANGAR_LIBVIRT_URI,
      pool: s.HANGAR_LIBVIRT_POOL,
      image_dir: s.HANGAR_LIBVIRT_IMAGE_DIR,
      scratch_dir: join(ctx.data_dir, 'libvirt-exports'),
      domain_type: s.HANGAR_LIBVIRT_DOMAIN_TYPE,
      nat_network: s.HANGAR_LIBVIRT_NETWORK,
      allowed_bridges: s.HANGAR_LIBVIRT_BRIDGES,
      ...(s.HANGAR_LIBVIRT_KERNEL
        ? { boot: { kernel: s.HANGAR_LIBVIRT_KERNEL, initrd: s.HANGAR_LIBVIRT_INITRD, append: s.HANGAR_LIBVIRT_APPEND } }
        : {}),
    });
  },
});
