import { describe, expect, it } from 'vitest';
import { gpuPreflight, type NodeDeviceReader, passthroughAddresses } from '../../src/drivers/libvirt/gpu-passthrough.js';
import { gpusFromNodeDevices, nodeDeviceName, parsePciDevice } from '../../src/drivers/libvirt/node-devices.js';

// PCI devices from libvirt's node device XML, as `virsh nodedev-dumpxml` prints it: GPUs,
// their IOMMU groups, and whether a group can be given to a VM.

interface Fixture {
  address: string;
  cls: string;
  vendor?: [string, string?];
  product?: [string, string?];
  driver?: string;
  /** The IOMMU group's number and members; none: the host has no IOMMU groups. */
  group?: [number, string[]];
  numa?: string;
}

const attrs = (address: string) => {
  const [domain, bus, rest] = address.split(':') as [string, string, string];
  const [slot, fn] = rest.split('.') as [string, string];
  return `domain='0x${domain}' bus='0x${bus}' slot='0x${slot}' function='0x${fn}'`;
};
const named = (tag: string, [id, text]: [string, string?]) =>
  text === undefined ? `<${tag} id='${id}'/>` : `<${tag} id='${id}'>${text}</${tag}>`;

/** The node device XML libvirt writes for a PCI device (decimal numbers, hex group addresses). */
function device(f: Fixture): string {
  const [domain, bus, rest] = f.address.split(':') as [string, string, string];
  const [slot, fn] = rest.split('.') as [string, string];
  return `<device>
  <name>${nodeDeviceName(f.address)}</name>
  <path>/sys/devices/pci0000:00/${f.address}</path>
  <parent>computer</parent>
  ${f.driver ? `<driver><name>${f.driver}</name></driver>` : ''}
  <capability type='pci'>
    <class>${f.cls}</class>
    <domain>${parseInt(domain, 16)}</domain>
    <bus>${parseInt(bus, 16)}</bus>
    <slot>${parseInt(slot, 16)}</slot>
    <function>${parseInt(fn, 16)}</function>
    ${named('product', f.product ?? ['0x20b5', 'GA100 [A100 80GB PCIe] &amp; more'])}
    ${named('vendor', f.vendor ?? ['0x10de', 'NVIDIA Corp.'])}
    ${f.group ? `<iommuGroup number='${f.group[0]}'>${f.group[1].map((a) => `<address ${attrs(a)}/>`).join('')}</iommuGroup>` : ''}
    ${f.numa !== undefined ? `<numa node='${f.numa}'/>` : ''}
    <pci-express><link validity='cap' port='0' speed='16' width='16'/></pci-express>
  </capability>
</device>`;
}

// A host: an A100 with its audio function and the root port above it in one group; a GPU on a
// host whose IOMMU is off; a GPU sharing its group with a NIC the host uses.
const ROOT_PORT = device({
  address: '0000:3a:00.0',
  cls: '0x060400',
  driver: 'pcieport',
  group: [30, ['0000:3a:00.0', '0000:3b:00.0', '0000:3b:00.1']],
  product: ['0x2030'],
  vendor: ['0x8086'],
});
const A100 = device({
  address: '0000:3b:00.0',
  cls: '0x030200',
  driver: 'nvidia',
  group: [30, ['0000:3a:00.0', '0000:3b:00.0', '0000:3b:00.1']],
  numa: '1',
});
const A100_AUDIO = device({
  address: '0000:3b:00.1',
  cls: '0x040300',
  driver: 'snd_hda_intel',
  group: [30, ['0000:3a:00.0', '0000:3b:00.0', '0000:3b:00.1']],
  product: ['0x1aef'],
});
const NO_IOMMU = device({
  address: '0000:5e:00.0',
  cls: '0x030000',
  driver: 'vfio-pci',
  product: ['0x2684', 'AD102 [GeForce RTX 4090]'],
  numa: '-1',
});
const SHARED = device({
  address: '0000:af:00.0',
  cls: '0x030200',
  driver: 'vfio-pci',
  group: [40, ['0000:af:00.0', '0000:b0:00.0']],
  product: ['0x20b0'],
  vendor: ['0x10de'],
  numa: '0',
});
const nic = (driver?: string) =>
  device({
    address: '0000:b0:00.0',
    cls: '0x020000',
    driver,
    group: [40, ['0000:af:00.0', '0000:b0:00.0']],
    product: ['0x10fb'],
    vendor: ['0x8086'],
  });
const SATA = device({
  address: '0000:00:17.0',
  cls: '0x010601',
  driver: 'ahci',
  group: [5, ['0000:00:17.0']],
  vendor: ['0x8086'],
  product: ['0xa352'],
});

/** libvirt's node devices by name, as the driver reads them. */
const reader =
  (xmls: string[]): NodeDeviceReader =>
  async (name) =>
    xmls.find((x) => x.includes(`<name>${name}</name>`)) ?? null;

describe('parsePciDevice', () => {
  it('reads the address, ids, names, driver, IOMMU group members and NUMA node', () => {
    expect(parsePciDevice(A100)).toEqual({
      address: '0000:3b:00.0',
      class: '0x030200',
      vendor_id: '0x10de',
      device_id: '0x20b5',
      vendor_name: 'NVIDIA Corp.',
      product_name: 'GA100 [A100 80GB PCIe] & more',
      driver: 'nvidia',
      iommu_group: { number: 30, members: ['0000:3a:00.0', '0000:3b:00.0', '0000:3b:00.1'] },
      numa_node: 1,
    });
  });

  it('reads no device from other XML', () => {
    expect(parsePciDevice("<device><name>net_eth0</name><capability type='net'/></device>")).toBeNull();
    expect(parsePciDevice('')).toBeNull();
    expect(parsePciDevice('<<<')).toBeNull();
    expect(parsePciDevice('<device><capability type="pci"><class>0x030000</class></capability></device>')).toBeNull();
  });
});

describe('gpusFromNodeDevices', () => {
  const host = [SATA, ROOT_PORT, A100, A100_AUDIO, NO_IOMMU, SHARED, nic('ixgbe')];

  it('lists the GPUs alone, with names, memory and health', () => {
    const gpus = gpusFromNodeDevices(host);
    expect(gpus.map((g) => g.address)).toEqual(['0000:3b:00.0', '0000:5e:00.0', '0000:af:00.0']);
    // Bound to nvidia, its group a root port and its own audio: libvirt detaches it at start.
    // Names are libvirt's, as its host's database has them (older than ours, here).
    expect(gpus[0]).toEqual({
      address: '0000:3b:00.0',
      vendor_id: '0x10de',
      device_id: '0x20b5',
      vendor: 'NVIDIA Corp.',
      model: 'GA100 [A100 80GB PCIe] & more',
      memory_mb: 81920,
      driver: 'nvidia',
      iommu_group: 30,
      numa_node: 1,
      health: 'healthy',
      health_reason: null,
    });
  });

  it('takes names from the PCI ids database where libvirt gives none', () => {
    const shared = gpusFromNodeDevices(host).find((g) => g.address === '0000:af:00.0');
    expect(shared).toMatchObject({ vendor: 'NVIDIA Corporation', model: 'GA100 [A100 SXM4 40GB]', memory_mb: 40960, numa_node: 0 });
  });

  it('marks a GPU without an IOMMU group unhealthy: the IOMMU is off', () => {
    const gpu = gpusFromNodeDevices(host).find((g) => g.address === '0000:5e:00.0');
    expect(gpu).toMatchObject({ health: 'unhealthy', iommu_group: null, numa_node: null, memory_mb: null });
    expect(gpu?.health_reason).toMatch(/no IOMMU group.*IOMMU is off/);
  });

  it('marks a GPU unhealthy whose group holds a device the host uses, and says which', () => {
    const gpu = gpusFromNodeDevices(host).find((g) => g.address === '0000:af:00.0');
    expect(gpu?.health).toBe('unhealthy');
    expect(gpu?.health_reason).toBe(
      'its IOMMU group 40 also holds 0000:b0:00.0 (bound to ixgbe), used by the host: the group cannot be given to a VM',
    );
  });

  it('lets the group be given when that device is VFIO’s, or bound to nothing', () => {
    for (const other of [nic('vfio-pci'), nic(undefined)]) {
      expect(gpusFromNodeDevices([SHARED, other])[0]).toMatchObject({ health: 'healthy', health_reason: null });
    }
  });

  it('takes a group member libvirt does not describe as in use', () => {
    expect(gpusFromNodeDevices([SHARED])[0]?.health_reason).toMatch(/0000:b0:00.0 \(which libvirt does not describe\)/);
  });
});

describe('GPU passthrough against libvirt’s node devices', () => {
  const host = reader([ROOT_PORT, A100, A100_AUDIO, NO_IOMMU, SHARED, nic('ixgbe')]);

  it('passes a GPU through with its audio function, not the bridge of its group', async () => {
    expect(await passthroughAddresses([{ address: '0000:3b:00.0', numa_node: 1 }], host)).toEqual(['0000:3b:00.0', '0000:3b:00.1']);
    expect(
      await passthroughAddresses(
        [
          { address: '0000:af:00.0', numa_node: 0 },
          { address: '0000:3b:00.0', numa_node: 1 },
        ],
        host,
      ),
    ).toEqual(['0000:af:00.0', '0000:3b:00.0', '0000:3b:00.1']);
  });

  it('passes every function of a GPU with several (USB-C, serial bus) but a bridge', async () => {
    const group: [number, string[]] = [12, ['0000:65:00.0', '0000:65:00.1', '0000:65:00.2', '0000:65:00.3', '0000:65:00.4']];
    const turing = reader([
      device({ address: '0000:65:00.0', cls: '0x030000', driver: 'nvidia', group, product: ['0x1e87'] }),
      device({ address: '0000:65:00.3', cls: '0x0c8000', driver: 'nvidia-gpu', group, product: ['0x1ad9'] }),
      device({ address: '0000:65:00.1', cls: '0x040300', driver: 'snd_hda_intel', group, product: ['0x10f8'] }),
      device({ address: '0000:65:00.4', cls: '0x060400', driver: 'pcieport', group, product: ['0x1ada'] }),
      device({ address: '0000:65:00.2', cls: '0x0c0330', driver: 'xhci_hcd', group, product: ['0x1ad8'] }),
    ]);
    expect(await passthroughAddresses([{ address: '0000:65:00.0', numa_node: 0 }], turing)).toEqual([
      '0000:65:00.0',
      '0000:65:00.1',
      '0000:65:00.2',
      '0000:65:00.3',
    ]);
    // Its own functions are libvirt's to detach: the group is viable whatever they are bound to.
    expect(await gpuPreflight(['0000:65:00.0'], turing)).toEqual([]);
  });

  it('passes a GPU libvirt does not know alone (the start refuses it)', async () => {
    expect(await passthroughAddresses([{ address: '0000:99:00.0', numa_node: null }], host)).toEqual(['0000:99:00.0']);
  });

  it('finds nothing wrong with a viable group', async () => {
    expect(await gpuPreflight(['0000:3b:00.0'], host)).toEqual([]);
  });

  it('names each GPU that cannot be passed through, and why', async () => {
    const faults = await gpuPreflight(['0000:3b:00.0', '0000:5e:00.0', '0000:af:00.0', '0000:99:00.0'], host);
    expect(faults.map((f) => f.address)).toEqual(['0000:5e:00.0', '0000:af:00.0', '0000:99:00.0']);
    expect(faults[0]?.reason).toMatch(/no IOMMU group/);
    expect(faults[1]?.reason).toMatch(/0000:b0:00.0 \(bound to ixgbe\)/);
    expect(faults[2]?.reason).toBe('the host has no PCI device at this address');
  });

  it('refuses an address that is not one before asking libvirt', async () => {
    const asked: string[] = [];
    const faults = await gpuPreflight(["0000:3b:00.0'/><evil"], async (n) => {
      asked.push(n);
      return null;
    });
    expect(faults).toEqual([{ address: "0000:3b:00.0'/><evil", reason: 'not a PCI address' }]);
    expect(asked).toEqual([]);
    expect(() => nodeDeviceName('../../etc')).toThrow();
  });
});
