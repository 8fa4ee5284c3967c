import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

/** The fixture's devices by role. */
export const FIXTURE_ADDRESSES = {
  /** Host bridge 8086:1237, no driver, IOMMU group 0. */
  hostBridge: '0000:00:00.0',
  /** SATA controller 8086:2922 on ahci, group 3. */
  sata: '0000:00:1f.2',
  /** The BMC's VGA (ASPEED 1a03:2000) on ast: the host's boot display, group 20. */
  bootVga: '0000:02:00.0',
  /** NVIDIA A100 SXM4 40GB (10de:20b0) on vfio-pci, group 42, NUMA node 1: ready. */
  a100: '0000:3b:00.0',
  /** Its audio function (10de:1aef, class 0x040300) on vfio-pci, group 42. */
  a100Audio: '0000:3b:00.1',
  /** NVIDIA RTX 3090 (10de:2204) on the host's nvidia driver, group 17, node 0. */
  rtx3090: '0000:5e:00.0',
  /** Its audio function on snd_hda_intel, group 17. */
  rtx3090Audio: '0000:5e:00.1',
  /** PCIe switch port (class 0x060400, pcieport) in the MI210's group 7. */
  mi210Bridge: '0000:85:00.0',
  /** AMD Instinct MI210 (1002:740f) on vfio-pci behind that bridge, group 7, no NUMA affinity (-1): ready. */
  mi210: '0000:86:00.0',
  /** NVIDIA Tesla T4 (10de:1eb8) on nvidia, group 9 with the NIC, node 1. */
  t4: '0000:af:00.0',
  /** Intel 82574L NIC (8086:10d3, class 0x020000) on e1000e in another slot of group 9: the host uses it. */
  nic: '0000:b0:00.0',
} as const;

export type FixtureRole = keyof typeof FIXTURE_ADDRESSES;

export interface SysfsFixtureOptions {
  /** false: a host booted without an IOMMU (no groups, no /dev/vfio/N). Default true. */
  iommu?: boolean;
  /** The soft and hard "Max locked memory" in the limits file, in bytes. Default unlimited. */
  memlock?: number | 'unlimited';
  /** The effective uid in the status file; 0 gives QEMU CAP_IPC_LOCK. Default 1000. */
  uid?: number;
}

export interface SysfsFixture {
  root: string;
  /** Pass as sysfsRoot / HANGAR_SYSFS_ROOT. */
  sysfsRoot: string;
  /** Pass as devRoot: holds vfio/vfio and vfio/<group> for the groups on vfio-pci (42, 7). */
  devRoot: string;
  /** A /proc/self/limits. */
  limitsPath: string;
  /** A /proc/self/status. */
  statusPath: string;
  addresses: typeof FIXTURE_ADDRESSES;
  /** IOMMU groups by role of their GPU. */
  groups: { a100: 42; rtx3090: 17; mi210: 7; t4: 9; bootVga: 20 };
  /** `devices/system/node/node<N>/cpulist`. */
  nodeCpus: { 0: string; 1: string };
}

interface FixtureDevice {
  address: string;
  vendor: string;
  device: string;
  class: string;
  driver?: string;
  group: number;
  numa?: number;
  /** The bridge it sits behind, as the kernel nests device directories. */
  parent?: string;
  bootVga?: boolean;
}

const A = FIXTURE_ADDRESSES;

const DEVICES: FixtureDevice[] = [
  { address: A.hostBridge, vendor: '0x8086', device: '0x1237', class: '0x060000', group: 0 },
  { address: A.sata, vendor: '0x8086', device: '0x2922', class: '0x010601', driver: 'ahci', group: 3 },
  { address: A.bootVga, vendor: '0x1a03', device: '0x2000', class: '0x030000', driver: 'ast', group: 20, bootVga: true },
  { address: A.a100, vendor: '0x10de', device: '0x20b0', class: '0x030200', driver: 'vfio-pci', group: 42, numa: 1 },
  { address: A.a100Audio, vendor: '0x10de', device: '0x1aef', class: '0x040300', driver: 'vfio-pci', group: 42, numa: 1 },
  { address: A.rtx3090, vendor: '0x10de', device: '0x2204', class: '0x030000', driver: 'nvidia', group: 17, numa: 0, bootVga: false },
  { address: A.rtx3090Audio, vendor: '0x10de', device: '0x1aef', class: '0x040300', driver: 'snd_hda_intel', group: 17, numa: 0 },
  { address: A.mi210Bridge, vendor: '0x1000', device: '0xc010', class: '0x060400', driver: 'pcieport', group: 7, numa: -1 },
  {
    address: A.mi210,
    vendor: '0x1002',
    device: '0x740f',
    class: '0x038000',
    driver: 'vfio-pci',
    group: 7,
    numa: -1,
    parent: A.mi210Bridge,
  },
  { address: A.t4, vendor: '0x10de', device: '0x1eb8', class: '0x030200', driver: 'nvidia', group: 9, numa: 1 },
  { address: A.nic, vendor: '0x8086', device: '0x10d3', class: '0x020000', driver: 'e1000e', group: 9, numa: 1 },
];

const NODE_CPUS = { 0: '0-7,16-23', 1: '8-15,24-31' } as const;

/** A link as the kernel makes them: relative, so the tree still works copied elsewhere. */
async function link(target: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await symlink(relative(dirname(path), target), path);
}

const limitsFile = (memlock: number | 'unlimited') =>
  [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max cpu time              unlimited            unlimited            seconds   ',
    'Max open files            1048576              1048576              files     ',
    `Max locked memory         ${String(memlock).padEnd(21)}${String(memlock).padEnd(21)}bytes     `,
    'Max address space         unlimited            unlimited            bytes     ',
    '',
  ].join('\n');

const statusFile = (uid: number) =>
  [
    'Name:\tnode',
    `Uid:\t${uid}\t${uid}\t${uid}\t${uid}`,
    'CapInh:\t0000000000000000',
    `CapEff:\t${uid === 0 ? '000001ffffffffff' : '0000000000000000'}`,
    'CapBnd:\t000001ffffffffff',
    'CapAmb:\t0000000000000000',
    '',
  ].join('\n');

/**
 * A host's sysfs, /dev/vfio and procfs files for GPU passthrough, laid out as the kernel does
 * (device directories under `devices/`, linked from `bus/pci/devices`, `driver` and
 * `iommu_group` links, `kernel/iommu_groups/N/devices`), under `root`: every case the
 * passthrough checks tell apart, on one host. Each test can build its own and change it.
 */
export async function buildSysfsFixture(root: string, opts: SysfsFixtureOptions = {}): Promise<SysfsFixture> {
  const iommu = opts.iommu ?? true;
  const sys = join(root, 'sys');
  const dev = join(root, 'dev');
  const realDirs = new Map<string, string>();
  await mkdir(join(sys, 'kernel/iommu_groups'), { recursive: true });
  await mkdir(join(sys, 'bus/pci'), { recursive: true });
  await writeFile(join(sys, 'bus/pci/drivers_probe'), '');
  for (const d of DEVICES) {
    const parentDir = d.parent ? realDirs.get(d.parent)! : join(sys, 'devices/pci0000:00');
    const real = join(parentDir, d.address);
    realDirs.set(d.address, real);
    await mkdir(real, { recursive: true });
    const attrs: Record<string, string> = { vendor: d.vendor, device: d.device, class: d.class, driver_override: '(null)' };
    if (d.numa !== undefined) attrs.numa_node = String(d.numa);
    if (d.bootVga !== undefined) attrs.boot_vga = d.bootVga ? '1' : '0';
    for (const [name, value] of Object.entries(attrs)) await writeFile(join(real, name), `${value}\n`);
    await link(real, join(sys, 'bus/pci/devices', d.address));
    if (d.driver) {
      const driverDir = join(sys, 'bus/pci/drivers', d.driver);
      await mkdir(driverDir, { recursive: true });
      for (const f of ['bind', 'unbind', 'new_id']) await writeFile(join(driverDir, f), '');
      await link(driverDir, join(real, 'driver'));
      await link(real, join(driverDir, d.address));
    }
    if (iommu) {
      const groupDir = join(sys, 'kernel/iommu_groups', String(d.group));
      await mkdir(join(groupDir, 'devices'), { recursive: true });
      await writeFile(join(groupDir, 'type'), 'DMA\n');
      await link(groupDir, join(real, 'iommu_group'));
      await link(real, join(groupDir, 'devices', d.address));
    }
  }
  await mkdir(join(dev, 'vfio'), { recursive: true });
  await writeFile(join(dev, 'vfio/vfio'), '');
  if (iommu) for (const group of [42, 7]) await writeFile(join(dev, 'vfio', String(group)), '');
  for (const [node, cpus] of Object.entries(NODE_CPUS)) {
    await mkdir(join(sys, `devices/system/node/node${node}`), { recursive: true });
    await writeFile(join(sys, `devices/system/node/node${node}/cpulist`), `${cpus}\n`);
  }
  const proc = join(root, 'proc/self');
  await mkdir(proc, { recursive: true });
  await writeFile(join(proc, 'limits'), limitsFile(opts.memlock ?? 'unlimited'));
  await writeFile(join(proc, 'status'), statusFile(opts.uid ?? 1000));
  return {
    root,
    sysfsRoot: sys,
    devRoot: dev,
    limitsPath: join(proc, 'limits'),
    statusPath: join(proc, 'status'),
    addresses: FIXTURE_ADDRESSES,
    groups: { a100: 42, rtx3090: 17, mi210: 7, t4: 9, bootVga: 20 },
    nodeCpus: { ...NODE_CPUS },
  };
}
