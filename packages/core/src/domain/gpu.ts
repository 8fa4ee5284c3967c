import { z } from 'zod';
import { Text, Timestamp, Uuid } from './fields.js';

/** A PCI address as sysfs and QEMU write it: domain:bus:slot.function, e.g. 0000:3b:00.0. */
export const PciAddress = z
  .string()
  .regex(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/, { message: 'must be a PCI address like 0000:3b:00.0 (lowercase hex)' });

/** A PCI vendor or device id as sysfs writes it: 0x and four hex digits. */
export const PciId = z.string().regex(/^0x[0-9a-f]{4}$/, { message: 'must be a PCI id like 0x10de' });

export const GpuHealth = z.enum(['healthy', 'unhealthy']);
export type GpuHealth = z.infer<typeof GpuHealth>;

/**
 * A GPU as a host's driver (or its agent) reports it. Names come from the PCI ids database on
 * that host; `health` from the host-side checks passthrough needs (IOMMU group, vfio-pci).
 */
export const GpuDevice = z.object({
  address: PciAddress,
  vendor_id: PciId,
  device_id: PciId,
  /** The vendor's name from the PCI ids database, when it knows the vendor. */
  vendor: Text.max(256).nullable(),
  /** The model's name from the PCI ids database, when it knows the device. */
  model: Text.max(256).nullable().default(null),
  /** The GPU's memory, where the host knows it (the PCI ids name often says, e.g. "A100 PCIe 80GB"). */
  memory_mb: z.int().min(0).max(16_777_216).nullable().default(null),
  /** The kernel driver bound to it (vfio-pci for passthrough). */
  driver: Text.max(64).nullable(),
  iommu_group: z.int().min(0).max(1_000_000).nullable(),
  numa_node: z.int().min(0).max(1024).nullable(),
  health: GpuHealth.default('healthy'),
  /** Why it cannot be passed through (not bound to vfio-pci, its IOMMU group holds a device in use…). */
  health_reason: Text.max(2000).nullable().default(null),
});
export type GpuDevice = z.output<typeof GpuDevice>;

/** Words of a name, lowercase: how a VM's `model`/`vendor` is matched (whole words, any order). */
export function nameWords(name: string | null | undefined): string[] {
  return [
    ...new Set(
      (name ?? '')
        .toLowerCase()
        .split(/[^a-z0-9]+/)
        .filter(Boolean),
    ),
  ];
}

const PCI_PAIR = /^(?:0x)?([0-9a-f]{4}):(?:0x)?([0-9a-f]{4})$/i;
const PCI_ONE = /^0x([0-9a-f]{4})$/i;
const bare = (id: string) => id.toLowerCase().replace(/^0x/, '');

/** A request's `model` or `vendor` as stored: an id in the one form (`10de:20b0`), a name as given. */
export function canonicalGpuName(asked: string): string {
  const pair = PCI_PAIR.exec(asked.trim());
  if (pair) return `${pair[1]}:${pair[2]}`.toLowerCase();
  const one = PCI_ONE.exec(asked.trim());
  return one ? one[1]!.toLowerCase() : asked.trim();
}

/** The words a request's `model` or `vendor` stands for: a `vendor:device` id as one word, else the name's words. */
export function requestWords(asked: string): string[] {
  const pair = PCI_PAIR.exec(asked.trim());
  if (pair) return [`${pair[1]}:${pair[2]}`.toLowerCase()];
  const one = PCI_ONE.exec(asked.trim());
  return one ? [one[1]!.toLowerCase()] : nameWords(asked);
}

/** What a GPU's `model` is matched against: its name's words and its vendor:device id. */
export const modelWordsOf = (g: Pick<GpuDevice, 'model' | 'vendor_id' | 'device_id'>) => [
  ...nameWords(g.model),
  `${bare(g.vendor_id)}:${bare(g.device_id)}`,
];

/** What a GPU's `vendor` is matched against: its vendor's name's words and its id. */
export const vendorWordsOf = (g: Pick<GpuDevice, 'vendor' | 'vendor_id'>) => [...nameWords(g.vendor), bare(g.vendor_id)];

export const GpuName = Text.min(1)
  .max(128)
  .refine((s) => nameWords(s).length > 0, { message: 'must contain letters or digits' });

/** What a VM asks for: how many GPUs, and optionally which model and vendor. */
export const GpuRequest = z
  .strictObject({
    count: z.int().min(0).max(16),
    /**
     * Words of the model's name (`A100`, `H100 80GB`: each word must appear in the PCI ids name,
     * so `A100` matches "GA100 [A100 PCIe 40GB]" and `A10` does not), or its `vendor:device` id (`10de:20b0`).
     */
    model: GpuName.optional(),
    /** Words of the vendor's name (`nvidia`, `amd`) or its id (`10de`). */
    vendor: GpuName.optional(),
  })
  .meta({ id: 'GpuRequest' });
export type GpuRequest = z.input<typeof GpuRequest>;

/** What a VM asked for, as stored and shown. */
export const VmGpus = z.object({ count: z.int(), model: z.string().nullable(), vendor: z.string().nullable() }).meta({ id: 'VmGpus' });
export type VmGpus = z.infer<typeof VmGpus>;

/** A GPU a VM holds. */
export const VmGpuDevice = z
  .object({
    address: PciAddress,
    vendor: z.string().nullable(),
    model: z.string().nullable(),
    host_id: Uuid,
    numa_node: z.int().nullable(),
  })
  .meta({ id: 'VmGpuDevice' });
export type VmGpuDevice = z.infer<typeof VmGpuDevice>;

/** A GPU of the fleet, as admins see it. */
export const Gpu = z
  .object({
    id: Uuid,
    host_id: Uuid,
    host_name: z.string(),
    address: PciAddress,
    vendor_id: z.string(),
    device_id: z.string(),
    vendor: z.string().nullable(),
    model: z.string().nullable(),
    memory_mb: z.int().nullable(),
    iommu_group: z.int().nullable(),
    numa_node: z.int().nullable(),
    driver: z.string().nullable(),
    health: GpuHealth,
    health_reason: z.string().nullable(),
    /** The VM holding it; null when free. */
    vm_id: Uuid.nullable(),
    updated_at: Timestamp,
  })
  .meta({ id: 'Gpu' });
export type Gpu = z.infer<typeof Gpu>;

/** A GPU a launch found unusable, and why (the operation fails; the GPU is marked unhealthy). */
export const GpuFault = z.object({ address: PciAddress, reason: Text.min(1).max(2000) });
export type GpuFault = z.infer<typeof GpuFault>;
