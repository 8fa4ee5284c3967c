import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import type { GpuDevice } from '../../domain/host.js';
import { PCI_VENDORS } from '../qemu/gpus.js';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, parseAttributeValue: false });

const number = z
  .string()
  .regex(/^(0x[0-9a-f]+|\d+)$/i)
  .transform(Number);
const idOf = z.object({ '@id': z.string().regex(/^0x[0-9a-f]{4}$/i) });
/** The parts of libvirt's node device XML (`virNodeDeviceGetXMLDesc`) a GPU is described by. */
const PciCapability = z.object({
  '@type': z.literal('pci'),
  class: z.string().regex(/^0x[0-9a-f]{6}$/i),
  domain: number,
  bus: number,
  slot: number,
  function: number,
  product: idOf,
  vendor: idOf,
  iommuGroup: z.object({ '@number': number }).optional(),
  numa: z.object({ '@node': z.string() }).optional(),
});
const NodeDevice = z.object({
  device: z.object({
    driver: z.object({ name: z.string() }).optional(),
    capability: z.union([z.array(z.unknown()), z.unknown()]),
  }),
});

const hex = (v: number, width: number) => v.toString(16).padStart(width, '0');

/**
 * A GPU from a node device's XML, or null for any other device (or XML that does not read as
 * a PCI device): GPUs are PCI class 0x03xxxx (display controllers, NVIDIA's 3D controllers
 * among them), as the QEMU driver's sysfs scan decides.
 */
export function gpuFromNodeDevice(xml: string): GpuDevice | null {
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch {
    return null;
  }
  const dev = NodeDevice.safeParse(doc);
  if (!dev.success) return null;
  const pci = [dev.data.device.capability]
    .flat()
    .map((c) => PciCapability.safeParse(c))
    .find((r) => r.success)?.data;
  if (!pci || !/^0x03/i.test(pci.class)) return null;
  const vendor_id = pci.vendor['@id'].toLowerCase();
  const numa = pci.numa?.['@node'];
  return {
    address: `${hex(pci.domain, 4)}:${hex(pci.bus, 2)}:${hex(pci.slot, 2)}.${hex(pci.function, 1)}`,
    vendor_id,
    device_id: pci.product['@id'].toLowerCase(),
    vendor: PCI_VENDORS[vendor_id] ?? null,
    driver: dev.data.device.driver?.name ?? null,
    iommu_group: pci.iommuGroup?.['@number'] ?? null,
    // libvirt writes -1 when the device has no NUMA affinity.
    numa_node: numa !== undefined && /^\d+$/.test(numa) ? Number(numa) : null,
  };
}
