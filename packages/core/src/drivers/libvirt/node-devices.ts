import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import { type GpuDevice, PciAddress } from '../../domain/gpu.js';
import { memoryFromName, pciNames } from '../gpus/pci-ids.js';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) => name === 'capability' || name === 'address',
});

const number = z
  .string()
  .regex(/^(0x[0-9a-f]+|\d+)$/i)
  .transform(Number);
/** `<vendor id='0x10de'>NVIDIA Corporation</vendor>`; the text is absent where libvirt's host has no name for the id. */
const Named = z.object({ '@id': z.string().regex(/^0x[0-9a-f]{4}$/i), '#text': z.string().optional() });
const GroupAddress = z.object({ '@domain': number, '@bus': number, '@slot': number, '@function': number });
/** The parts of libvirt's node device XML (`virNodeDeviceGetXMLDesc`) a PCI device is described by. */
const PciCapability = z.object({
  '@type': z.literal('pci'),
  class: z.string().regex(/^0x[0-9a-f]{6}$/i),
  domain: number,
  bus: number,
  slot: number,
  function: number,
  product: Named,
  vendor: Named,
  iommuGroup: z.object({ '@number': number, address: z.array(GroupAddress).optional() }).optional(),
  numa: z.object({ '@node': z.string().optional() }).optional(),
});
const NodeDevice = z.object({
  device: z.object({
    driver: z.object({ name: z.string() }).optional(),
    capability: z.array(z.unknown()),
  }),
});

/** A PCI device as libvirt describes it: what GPU inventory and passthrough checks need. */
export interface PciNodeDevice {
  address: string;
  /** The PCI class, `0xCCSSPP`: 0x03… display controllers, 0x06… bridges. */
  class: string;
  vendor_id: string;
  device_id: string;
  /** The names libvirt's host gives the ids, when it has them. */
  vendor_name: string | null;
  product_name: string | null;
  /** The host driver bound to it. */
  driver: string | null;
  /** Its IOMMU group and every device in it (itself among them); null when the host has no IOMMU groups. */
  iommu_group: { number: number; members: string[] } | null;
  numa_node: number | null;
}

const hex = (v: number, width: number) => v.toString(16).padStart(width, '0');

/** A PCI address written as sysfs writes it, or null where the numbers cannot be one. */
function pciAddress(a: { domain: number; bus: number; slot: number; function: number }): string | null {
  const address = `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${hex(a.function, 1)}`;
  return PciAddress.safeParse(address).success && a.slot < 32 ? address : null;
}

/** A name as libvirt wrote it, trimmed and bounded (it becomes part of the host's inventory). */
const name = (n: z.infer<typeof Named>) => {
  const text = n['#text']?.trim();
  return text ? text.slice(0, 256) : null;
};

/** The libvirt node device name of a PCI address: `pci_0000_3b_00_0`. */
export function nodeDeviceName(address: string): string {
  return `pci_${PciAddress.parse(address).replace(/[:.]/g, '_')}`;
}

/** A PCI device from its node device XML, or null for any other device (or XML that does not read as one). */
export function parsePciDevice(xml: string): PciNodeDevice | null {
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch {
    return null;
  }
  const dev = NodeDevice.safeParse(doc);
  if (!dev.success) return null;
  const pci = dev.data.device.capability.map((c) => PciCapability.safeParse(c)).find((r) => r.success)?.data;
  if (!pci) return null;
  const address = pciAddress(pci);
  if (!address) return null;
  const group = pci.iommuGroup;
  const numa = pci.numa?.['@node'];
  return {
    address,
    class: pci.class.toLowerCase(),
    vendor_id: pci.vendor['@id'].toLowerCase(),
    device_id: pci.product['@id'].toLowerCase(),
    vendor_name: name(pci.vendor),
    product_name: name(pci.product),
    driver: dev.data.device.driver?.name ?? null,
    iommu_group: group
      ? {
          number: group['@number'],
          members: (group.address ?? [])
            .map((a) => pciAddress({ domain: a['@domain'], bus: a['@bus'], slot: a['@slot'], function: a['@function'] }))
            .filter((a) => a !== null),
        }
      : null,
    // libvirt writes -1 when the device has no NUMA affinity.
    numa_node: numa !== undefined && /^\d+$/.test(numa) ? Number(numa) : null,
  };
}

/** GPUs are PCI class 0x03xxxx: display controllers, NVIDIA's 3D controllers among them. */
export const isGpu = (d: PciNodeDevice) => d.class.startsWith('0x03');
/** Bridges (class 0x06xxxx) may share a group with a passed-through device: the kernel lets VFIO have the group all the same. */
export const isBridge = (d: PciNodeDevice) => d.class.startsWith('0x06');

/** `0000:3b:00.0` and `0000:3b:00.1`: functions of one device (a GPU and its audio). */
export const sameSlot = (a: string, b: string) => a.slice(0, a.lastIndexOf('.')) === b.slice(0, b.lastIndexOf('.'));

/**
 * Drivers a device of the group may keep while another of its devices is given to a VM:
 * VFIO's own, and pci-stub (which only holds a device away from other drivers). No driver at all is fine too.
 */
const INERT_DRIVERS = new Set(['vfio-pci', 'pci-stub']);

/**
 * Why the GPU cannot be passed through, or null where it can. VFIO gives a VM whole IOMMU
 * groups: the GPU needs one (none means the IOMMU is off), and every other device in it must be
 * a bridge, unbound, or VFIO's. The GPU's own functions (its audio, in its slot) are passed
 * through with it, and libvirt detaches them from their host drivers (managed hostdevs), as it
 * does the GPU itself: a GPU bound to nvidia here is fine, libvirt rebinds it to vfio-pci at
 * start. A device in another slot bound to a host driver (a NIC, a disk controller) is the
 * host's in use: the group is not viable, and the start would fail inside libvirt.
 * `lookup` gives the group's other devices; one it does not know is taken as in use.
 */
export function passthroughProblem(gpu: PciNodeDevice, lookup: (address: string) => PciNodeDevice | null | undefined): string | null {
  const group = gpu.iommu_group;
  if (!group) {
    return 'it has no IOMMU group: the IOMMU is off (intel_iommu=on or amd_iommu=on on the kernel command line, and VT-d/AMD-Vi in the firmware)';
  }
  const foreign: string[] = [];
  for (const member of group.members) {
    if (sameSlot(member, gpu.address)) continue;
    const dev = lookup(member);
    if (!dev) foreign.push(`${member} (which libvirt does not describe)`);
    else if (isBridge(dev) || dev.driver === null || INERT_DRIVERS.has(dev.driver)) continue;
    else foreign.push(`${member} (bound to ${dev.driver})`);
  }
  if (foreign.length === 0) return null;
  return `its IOMMU group ${group.number} also holds ${foreign.join(', ')}, used by the host: the group cannot be given to a VM`;
}

/**
 * The PCI functions passed through for a GPU: itself, then the other functions of its slot in
 * its IOMMU group that are not bridges (its audio), so the VM holds what VFIO hands over together.
 */
export function passthroughFunctions(gpu: PciNodeDevice, lookup: (address: string) => PciNodeDevice | null | undefined): string[] {
  const companions = (gpu.iommu_group?.members ?? []).filter((m) => {
    if (m === gpu.address || !sameSlot(m, gpu.address)) return false;
    const dev = lookup(m);
    return !dev || !isBridge(dev);
  });
  return [gpu.address, ...companions.sort()];
}

/** The inventory's view of a GPU: names, memory, and whether it can be passed through. */
export function gpuDevice(gpu: PciNodeDevice, lookup: (address: string) => PciNodeDevice | null | undefined): GpuDevice {
  // libvirt's own names where its host has them (what `virsh nodedev-dumpxml` shows), else ours.
  const names = pciNames(gpu.vendor_id, gpu.device_id);
  const model = gpu.product_name ?? names.model;
  const problem = passthroughProblem(gpu, lookup);
  return {
    address: gpu.address,
    vendor_id: gpu.vendor_id,
    device_id: gpu.device_id,
    vendor: gpu.vendor_name ?? names.vendor,
    model,
    memory_mb: memoryFromName(model),
    driver: gpu.driver,
    iommu_group: gpu.iommu_group?.number ?? null,
    numa_node: gpu.numa_node,
    health: problem ? 'unhealthy' : 'healthy',
    health_reason: problem,
  };
}

/** The GPUs among a host's PCI devices (each device's node device XML), checked against each other. */
export function gpusFromNodeDevices(xmls: string[]): GpuDevice[] {
  const devices = new Map<string, PciNodeDevice>();
  for (const xml of xmls) {
    const d = parsePciDevice(xml);
    if (d) devices.set(d.address, d);
  }
  const lookup = (a: string) => devices.get(a);
  return [...devices.values()]
    .filter(isGpu)
    .sort((a, b) => a.address.localeCompare(b.address))
    .map((g) => gpuDevice(g, lookup));
}
