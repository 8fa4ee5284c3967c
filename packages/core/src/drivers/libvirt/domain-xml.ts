import { create } from 'xmlbuilder2';
import { PciAddress } from '../../domain/gpu.js';
import type { DirectBoot } from '../qemu/command-line.js';
import { type DomainRecord, recordAttributes } from './domain-record.js';

/** The namespace of the metadata element that ties a libvirt domain to its Hangar VM. */
export const HANGAR_XMLNS = 'https://hangar.dev/xmlns/libvirt/vm/1';

/** What a libvirt domain is made from: the VM record, and where its files are. */
export interface LibvirtDomain {
  /** What Hangar keeps in the metadata element; the VM's name is the domain's title (names must be unique per host: `hangar-<id>`). */
  record: DomainRecord;
  /** `kvm` where KVM runs guests, else `qemu` (TCG). */
  domain_type: 'kvm' | 'qemu';
  disk: { path: string; format: 'qcow2' | 'raw' };
  /** libvirt's network for NAT VMs (`default`). */
  nat_network?: string;
  /** Where the serial console's output is kept. */
  console_log: string;
  boot?: DirectBoot;
}

/** The libvirt name of a Hangar VM's domain. */
export const domainName = (vmId: string) => `hangar-${vmId}`;

// XML 1.0 cannot carry these at all (escaping does not help): refused, as the QEMU driver refuses them.
const UNREPRESENTABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udfff]/;

function checked(values: (string | null | undefined)[]): void {
  for (const v of values) {
    if (v && UNREPRESENTABLE.test(v)) throw new Error(`a value of the domain cannot be written as XML: ${JSON.stringify(v)}`);
  }
}

/** A PCI address as the attributes of libvirt's `<address>`; anything else is refused, never written. */
function pciAddressAttributes(address: string): Record<string, string> {
  if (!PciAddress.safeParse(address).success) throw new Error(`not a PCI address: ${JSON.stringify(address)}`);
  const [domain, bus, slot, fn] = address.split(/[:.]/) as [string, string, string, string];
  return { domain: `0x${domain}`, bus: `0x${bus}`, slot: `0x${slot}`, function: `0x${fn}` };
}

const CPUSET = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** The NUMA node every GPU is on, or null where they are on several (or one's is unknown). */
export function gpuNumaNode(gpus: { numa_node: number | null }[] | undefined): number | null {
  const nodes = new Set((gpus ?? []).map((g) => g.numa_node));
  const [node] = nodes;
  return nodes.size === 1 && node !== undefined ? node : null;
}

/**
 * The domain XML for `defineXML`, built with an XML library: every value is text or an
 * attribute value, escaped by the builder, never pasted into markup. Persistent domains
 * (defined, not created) outlive Hangar and libvirtd.
 */
export function domainXml(d: LibvirtDomain): string {
  const r = d.record;
  checked([
    ...Object.values(recordAttributes(r)),
    d.disk.path,
    d.nat_network,
    d.console_log,
    d.boot?.kernel,
    d.boot?.initrd,
    d.boot?.append,
  ]);
  const doc = create({ version: '1.0' });
  const domain = doc.ele('domain', { type: d.domain_type });
  domain.ele('name').txt(domainName(r.id));
  domain.ele('uuid').txt(r.id);
  domain.ele('title').txt(r.name);
  domain.ele('metadata').ele(HANGAR_XMLNS, 'hangar:vm', recordAttributes(r));
  domain.ele('memory', { unit: 'MiB' }).txt(String(r.memory_mb));
  const hostdevs = (r.hostdevs ?? r.gpus?.map((g) => g.address) ?? []).map(pciAddressAttributes);
  const node = gpuNumaNode(r.gpus);
  if (r.cpuset !== undefined && !CPUSET.test(r.cpuset)) throw new Error(`not a cpuset: ${JSON.stringify(r.cpuset)}`);
  // A GPU's DMA and its driver's threads are fastest from its own NUMA node: the guest's vCPUs
  // run there and its memory comes from there, while it fits (preferred, not strict).
  domain.ele('vcpu', node !== null && r.cpuset ? { placement: 'static', cpuset: r.cpuset } : {}).txt(String(r.cpu_cores));
  if (node !== null) domain.ele('numatune').ele('memory', { mode: 'preferred', nodeset: String(node) });
  const os = domain.ele('os');
  os.ele('type', { arch: 'x86_64', machine: 'pc' }).txt('hvm');
  if (d.boot) {
    os.ele('kernel').txt(d.boot.kernel);
    if (d.boot.initrd) os.ele('initrd').txt(d.boot.initrd);
    if (d.boot.append) os.ele('cmdline').txt(d.boot.append);
  } else {
    os.ele('boot', { dev: 'hd' });
    if (r.iso) os.ele('boot', { dev: 'cdrom' });
  }
  const features = domain.ele('features');
  features.ele('acpi');
  features.ele('apic');
  // A guest that powers off ends the domain (it stays defined); the control plane decides the rest.
  domain.ele('on_poweroff').txt('destroy');
  domain.ele('on_reboot').txt('restart');
  domain.ele('on_crash').txt('destroy');

  const devices = domain.ele('devices');
  const disk = devices.ele('disk', { type: 'file', device: 'disk' });
  disk.ele('driver', { name: 'qemu', type: d.disk.format, cache: 'writeback' });
  disk.ele('source', { file: d.disk.path });
  disk.ele('target', { dev: 'vda', bus: 'virtio' });
  if (r.iso) {
    const cd = devices.ele('disk', { type: 'file', device: 'cdrom' });
    cd.ele('driver', { name: 'qemu', type: 'raw' });
    cd.ele('source', { file: r.iso });
    cd.ele('target', { dev: 'sda', bus: 'sata' });
    cd.ele('readonly');
  }
  const bridged = r.network === 'bridge';
  const nic = devices.ele('interface', { type: bridged ? 'bridge' : 'network' });
  nic.ele('source', bridged ? { bridge: r.bridge ?? '' } : { network: d.nat_network ?? 'default' });
  nic.ele('mac', { address: r.mac });
  nic.ele('model', { type: 'virtio' });
  const serial = devices.ele('serial', { type: 'pty' });
  serial.ele('log', { file: d.console_log, append: 'on' });
  serial.ele('target', { port: '0' });
  devices.ele('console', { type: 'pty' }).ele('target', { type: 'serial', port: '0' });
  // Managed: libvirt detaches each function from its host driver, binds it to vfio-pci for the
  // domain's life and gives it back after, so the host needs no setup per VM.
  for (const address of hostdevs) {
    devices.ele('hostdev', { mode: 'subsystem', type: 'pci', managed: 'yes' }).ele('source').ele('address', address);
  }
  if (r.vnc === 'yes') {
    // A unix socket libvirt places in its own private directory: no TCP port for anyone to reach.
    devices.ele('graphics', { type: 'vnc' }).ele('listen', { type: 'socket' });
    devices.ele('video').ele('model', { type: 'vga' });
  }
  return doc.end({ prettyPrint: true });
}
