import { z } from 'zod';
import { defineDriver } from '../definition.js';
import { LibvirtDriver } from './driver.js';
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
    /** Where VMs' disks and console logs live on the libvirt host (QEMU must be able to reach it). */
    HANGAR_LIBVIRT_IMAGE_DIR: z.string().min(1).default('/var/lib/libvirt/images/hangar'),
    /** The libvirt network NAT VMs join. */
    HANGAR_LIBVIRT_NETWORK: z.string().min(1).default('default'),
    HANGAR_QEMU_IMG: z.string().min(1).default('qemu-img'),
    /** A kernel every VM boots from directly (appliances; the tests' tiny guest). */
    HANGAR_LIBVIRT_KERNEL: z.string().optional(),
    HANGAR_LIBVIRT_INITRD: z.string().optional(),
    HANGAR_LIBVIRT_APPEND: z.string().optional(),
  }),
  create: (s) =>
    new LibvirtDriver({
      uri: s.HANGAR_LIBVIRT_URI,
      image_dir: s.HANGAR_LIBVIRT_IMAGE_DIR,
      domain_type: s.HANGAR_LIBVIRT_DOMAIN_TYPE,
      nat_network: s.HANGAR_LIBVIRT_NETWORK,
      qemuImg: s.HANGAR_QEMU_IMG,
      ...(s.HANGAR_LIBVIRT_KERNEL
        ? { boot: { kernel: s.HANGAR_LIBVIRT_KERNEL, initrd: s.HANGAR_LIBVIRT_INITRD, append: s.HANGAR_LIBVIRT_APPEND } }
        : {}),
    }),
});
