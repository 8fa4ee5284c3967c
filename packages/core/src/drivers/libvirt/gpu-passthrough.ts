import { type GpuFault, PciAddress } from '../../domain/gpu.js';
import type { GpuAssignment } from '../driver.js';
import { nodeDeviceName, type PciNodeDevice, parsePciDevice, passthroughFunctions, passthroughProblem } from './node-devices.js';

/** A node device's XML by its libvirt name, or null where libvirt has no such device. */
export type NodeDeviceReader = (name: string) => Promise<string | null>;

interface Group {
  gpu: PciNodeDevice | null;
  lookup: (address: string) => PciNodeDevice | null;
}

/**
 * A GPU's node device and those of its IOMMU group, read one by one: a host has hundreds of
 * PCI devices, a group a handful.
 */
async function readGroup(read: NodeDeviceReader, address: string): Promise<Group> {
  const xml = await read(nodeDeviceName(address));
  const gpu = xml === null ? null : parsePciDevice(xml);
  const devices = new Map<string, PciNodeDevice>();
  for (const member of gpu?.iommu_group?.members ?? []) {
    if (member === address) continue;
    const x = await read(nodeDeviceName(member));
    const d = x === null ? null : parsePciDevice(x);
    if (d) devices.set(member, d);
  }
  return { gpu: gpu?.address === address ? gpu : null, lookup: (a) => devices.get(a) ?? null };
}

/**
 * The PCI functions a domain is given for these GPUs: each GPU and the other functions of its
 * slot in its IOMMU group (its audio). A GPU libvirt does not describe is given alone: the
 * preflight at start refuses it, with the reason, rather than the define.
 */
export async function passthroughAddresses(gpus: GpuAssignment[], read: NodeDeviceReader): Promise<string[]> {
  const out: string[] = [];
  for (const { address } of gpus) {
    PciAddress.parse(address);
    const { gpu, lookup } = await readGroup(read, address);
    for (const a of gpu ? passthroughFunctions(gpu, lookup) : [address]) if (!out.includes(a)) out.push(a);
  }
  return out;
}

/**
 * What stands in the way of passing these GPUs through, one fault per GPU, checked before
 * libvirt is asked to start the domain so the operation fails saying which GPU and why (and the
 * scheduler marks it unhealthy). Binding to vfio-pci, /dev/vfio/N and the locked-memory limit
 * are libvirt's to handle for managed hostdevs, so they are not checked here.
 */
export async function gpuPreflight(addresses: string[], read: NodeDeviceReader): Promise<GpuFault[]> {
  const faults: GpuFault[] = [];
  for (const address of addresses) {
    if (!PciAddress.safeParse(address).success) {
      faults.push({ address, reason: 'not a PCI address' });
      continue;
    }
    const { gpu, lookup } = await readGroup(read, address);
    const problem = gpu ? passthroughProblem(gpu, lookup) : 'the host has no PCI device at this address';
    if (problem) faults.push({ address, reason: problem });
  }
  return faults;
}
