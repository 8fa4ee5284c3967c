import { describe, expect, it } from 'vitest';
import { convert } from 'xmlbuilder2';
import { cpusetOf, numaNodeCpuset } from '../../src/drivers/libvirt/capabilities.js';
import { type DomainRecord, parseRecord, recordAttributes } from '../../src/drivers/libvirt/domain-record.js';
import { domainName, domainXml, HANGAR_XMLNS, type LibvirtDomain } from '../../src/drivers/libvirt/domain-xml.js';

// The libvirt domain XML builder alone: whatever a name, path or bridge holds, it stays one
// text or attribute value; the document is what libvirt expects to read.

const ID = '6c7e3b27-7159-4e0a-9e30-3d44284574cd';
const record = (over: Partial<DomainRecord> = {}): DomainRecord => ({
  id: ID,
  name: 'web-1',
  cpu_cores: 2,
  memory_mb: 512,
  disk_gb: 10,
  disk_format: 'qcow2',
  network: 'nat',
  mac: '52:54:00:12:34:56',
  vnc: 'no',
  ...over,
});
const base = (over: Partial<DomainRecord> = {}, rest: Partial<LibvirtDomain> = {}): LibvirtDomain => ({
  record: record(over),
  domain_type: 'qemu',
  disk: { path: '/var/lib/hangar/vms/x/disk0.qcow2', format: 'qcow2' },
  console_log: '/var/lib/hangar/vms/x/console.log',
  ...rest,
});

/** The five predefined entities, decoded (the parser keeps text as written). */
const unentity = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
const decoded = (v: unknown): unknown =>
  typeof v === 'string'
    ? unentity(v)
    : Array.isArray(v)
      ? v.map(decoded)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decoded(x)]))
        : v;

/** The document as plain objects (attributes under `@`, text under `#`), values decoded. */
const parsed = (xml: string) => (decoded(convert(xml, { format: 'object' })) as any).domain;
const list = <T>(v: T | T[]) => (Array.isArray(v) ? v : [v]);

const HOSTILE = ['a</title><devices><hostdev/></devices><title>', `"'><&`, ']]>', 'x" type="block', '$(reboot)', 'naïve ✓ 名前'];

describe('domainXml', () => {
  it('writes the domain libvirt expects', () => {
    const d = parsed(domainXml(base({ iso: '/images/tools.iso', vnc: 'yes' })));
    expect(d['@type']).toBe('qemu');
    expect(d.name).toBe(domainName(ID));
    expect(d.uuid).toBe(ID);
    expect(d.title).toBe('web-1');
    expect(d.metadata['hangar:vm']).toMatchObject({ '@xmlns:hangar': HANGAR_XMLNS, '@id': ID, '@disk_gb': '10', '@vnc': 'yes' });
    expect(d.memory).toEqual({ '@unit': 'MiB', '#': '512' });
    expect(d.vcpu).toBe('2');
    const disks = list(d.devices.disk);
    expect(disks.map((x: { '@device': string }) => x['@device'])).toEqual(['disk', 'cdrom']);
    expect(disks[0].source['@file']).toBe('/var/lib/hangar/vms/x/disk0.qcow2');
    expect(disks[1].source['@file']).toBe('/images/tools.iso');
    expect(d.devices.interface).toMatchObject({
      '@type': 'network',
      source: { '@network': 'default' },
      mac: { '@address': '52:54:00:12:34:56' },
    });
    expect(d.devices.graphics).toEqual({ '@type': 'vnc', listen: { '@type': 'socket' } });
    expect(d.on_poweroff).toBe('destroy');
  });

  it('attaches a bridge, and boots a kernel directly when told', () => {
    const d = parsed(
      domainXml(
        base(
          { network: 'bridge', bridge: 'br0', mac: '52:54:00:00:00:01' },
          { boot: { kernel: '/k', initrd: '/i', append: 'console=ttyS0' } },
        ),
      ),
    );
    expect(d.devices.interface).toMatchObject({ '@type': 'bridge', source: { '@bridge': 'br0' } });
    expect(d.os).toMatchObject({ kernel: '/k', initrd: '/i', cmdline: 'console=ttyS0' });
    expect(d.devices.graphics).toBeUndefined();
  });

  for (const hostile of HOSTILE) {
    it(`keeps ${JSON.stringify(hostile)} one value wherever it goes`, () => {
      const xml = domainXml(
        base(
          { name: hostile, iso: `/images/${hostile}.iso`, network: 'bridge', bridge: hostile, mac: '52:54:00:00:00:02', vnc: 'yes' },
          { disk: { path: `/data/${hostile}/disk0.qcow2`, format: 'qcow2' }, console_log: `/data/${hostile}/console.log` },
        ),
      );
      const d = parsed(xml);
      expect(d.title).toBe(hostile);
      const disks = list(d.devices.disk);
      expect(disks).toHaveLength(2);
      expect(disks[0].source['@file']).toBe(`/data/${hostile}/disk0.qcow2`);
      expect(disks[1].source['@file']).toBe(`/images/${hostile}.iso`);
      expect(d.devices.interface.source['@bridge']).toBe(hostile);
      expect(d.metadata['hangar:vm']['@name']).toBe(hostile);
      expect(d.devices.hostdev).toBeUndefined();
      expect(Object.keys(d.devices).sort()).toEqual(['console', 'disk', 'graphics', 'interface', 'serial', 'video']);
    });
  }

  it('keeps the record in the metadata element, read back whole (as libvirt returns it)', () => {
    const gpus: Partial<DomainRecord> = {
      gpus: [
        { address: '0000:3b:00.0', numa_node: 1 },
        { address: '0000:af:00.0', numa_node: null },
      ],
      hostdevs: ['0000:3b:00.0', '0000:3b:00.1', '0000:af:00.0'],
      cpuset: '8-15,24-31',
    };
    for (const [name, extra] of [['web-1', {}], ['gpu-1', gpus], ...HOSTILE.map((h) => [h, {}] as const)] as const) {
      const r = record({ name, iso: `/images/${name}.iso`, network: 'bridge', bridge: name, ...extra });
      const xml = domainXml(base(r));
      // libvirt hands back the element alone, namespace declared on it.
      const element = xml.slice(xml.indexOf('<hangar:vm'), xml.indexOf('</metadata>')).trim();
      expect(parseRecord(element)).toEqual(r);
    }
  });

  it('reads no record from an element that is not a whole, valid one', () => {
    expect(parseRecord('')).toBeNull();
    expect(parseRecord('<hangar:vm xmlns:hangar="x" id="not-a-uuid"/>')).toBeNull();
    expect(parseRecord(`<vm id="${ID}" name="a"/>`)).toBeNull();
    expect(parseRecord('<<<')).toBeNull();
    const element = (attrs: Record<string, string>) =>
      `<hangar:vm xmlns:hangar="${HANGAR_XMLNS}" ${Object.entries({ ...recordAttributes(record()), ...attrs })
        .map(([k, v]) => `${k}="${v}"`)
        .join(' ')}/>`;
    expect(parseRecord(element({ gpus: '0000:3b:00.0@1' }))).toMatchObject({ gpus: [{ address: '0000:3b:00.0', numa_node: 1 }] });
    for (const bad of <Record<string, string>[]>[
      { gpus: '0000:3b:00.0@x' },
      { gpus: "0000:3b:00.0'/&gt;&lt;evil" },
      { gpus: '' },
      { hostdevs: '0000:3b:00.0 3b:00.1' },
      { cpuset: '0-3;reboot' },
    ]) {
      expect(parseRecord(element(bad))).toBeNull();
    }
  });

  it('refuses what XML cannot carry', () => {
    for (const bad of ['a\u0000b', 'x\u001b[31m', '\ud800']) {
      expect(() => domainXml(base({ name: bad }))).toThrow(/cannot be written as XML/);
    }
  });
});

describe('domainXml with GPUs', () => {
  const gpuDomain = (gpus: Partial<DomainRecord>) =>
    domainXml(base({ name: 'gpu-1', cpu_cores: 4, memory_mb: 8192, ...gpus }, { domain_type: 'kvm' }));
  /** The lines of the document from the first line holding `from` to the last holding `to`. */
  const section = (xml: string, from: string, to: string) => {
    const lines = xml.split('\n');
    const first = lines.findIndex((l) => l.includes(from));
    const last = lines.findLastIndex((l) => l.includes(to));
    return lines.slice(first, last + 1).join('\n');
  };

  it('passes one GPU through with its audio function, on its NUMA node', () => {
    const xml = gpuDomain({
      gpus: [{ address: '0000:3b:00.0', numa_node: 1 }],
      hostdevs: ['0000:3b:00.0', '0000:3b:00.1'],
      cpuset: '8-15,24-31',
    });
    expect(xml).toBe(`<?xml version="1.0"?>
<domain type="kvm">
  <name>hangar-${ID}</name>
  <uuid>${ID}</uuid>
  <title>gpu-1</title>
  <metadata>
    <hangar:vm xmlns:hangar="${HANGAR_XMLNS}" id="${ID}" name="gpu-1" cpu_cores="4" memory_mb="8192" disk_gb="10" disk_format="qcow2" network="nat" mac="52:54:00:12:34:56" vnc="no" cpuset="8-15,24-31" gpus="0000:3b:00.0@1" hostdevs="0000:3b:00.0 0000:3b:00.1"/>
  </metadata>
  <memory unit="MiB">8192</memory>
  <vcpu placement="static" cpuset="8-15,24-31">4</vcpu>
  <numatune>
    <memory mode="preferred" nodeset="1"/>
  </numatune>
  <os>
    <type arch="x86_64" machine="pc">hvm</type>
    <boot dev="hd"/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2" cache="writeback"/>
      <source file="/var/lib/hangar/vms/x/disk0.qcow2"/>
      <target dev="vda" bus="virtio"/>
    </disk>
    <interface type="network">
      <source network="default"/>
      <mac address="52:54:00:12:34:56"/>
      <model type="virtio"/>
    </interface>
    <serial type="pty">
      <log file="/var/lib/hangar/vms/x/console.log" append="on"/>
      <target port="0"/>
    </serial>
    <console type="pty">
      <target type="serial" port="0"/>
    </console>
    <hostdev mode="subsystem" type="pci" managed="yes">
      <source>
        <address domain="0x0000" bus="0x3b" slot="0x00" function="0x0"/>
      </source>
    </hostdev>
    <hostdev mode="subsystem" type="pci" managed="yes">
      <source>
        <address domain="0x0000" bus="0x3b" slot="0x00" function="0x1"/>
      </source>
    </hostdev>
  </devices>
</domain>`);
  });

  it('keeps two GPUs on one NUMA node together with the domain on that node', () => {
    const xml = gpuDomain({
      gpus: [
        { address: '0000:3b:00.0', numa_node: 0 },
        { address: '0000:5e:00.0', numa_node: 0 },
      ],
      hostdevs: ['0000:3b:00.0', '0000:3b:00.1', '0000:5e:00.0', '0000:5e:00.1'],
      cpuset: '0-7',
    });
    expect(section(xml, '<vcpu', '</numatune>')).toBe(`  <vcpu placement="static" cpuset="0-7">4</vcpu>
  <numatune>
    <memory mode="preferred" nodeset="0"/>
  </numatune>`);
    expect(section(xml, '<hostdev', '</hostdev>')).toBe(
      ['0x3b', '0x5e']
        .flatMap((bus) =>
          ['0x0', '0x1'].map(
            (fn) => `    <hostdev mode="subsystem" type="pci" managed="yes">
      <source>
        <address domain="0x0000" bus="${bus}" slot="0x00" function="${fn}"/>
      </source>
    </hostdev>`,
          ),
        )
        .join('\n'),
    );
  });

  it('leaves placement alone for GPUs on different nodes, or on an unknown one', () => {
    for (const nodes of [
      [0, 1],
      [0, null],
      [null, null],
    ]) {
      const d = parsed(
        gpuDomain({
          gpus: nodes.map((numa_node, i) => ({ address: `0000:${i + 10}:00.0`, numa_node })),
          hostdevs: ['0000:10:00.0', '0000:11:00.0'],
          cpuset: '0-7',
        }),
      );
      expect(d.vcpu).toBe('4');
      expect(d.numatune).toBeUndefined();
      expect(list(d.devices.hostdev)).toHaveLength(2);
    }
  });

  it('passes the GPUs alone where the record names no other functions, and writes no GPU parts without GPUs', () => {
    const d = parsed(gpuDomain({ gpus: [{ address: '0000:3b:00.0', numa_node: 1 }] }));
    expect(d.devices.hostdev.source.address).toEqual({ '@domain': '0x0000', '@bus': '0x3b', '@slot': '0x00', '@function': '0x0' });
    expect(d.vcpu).toBe('4');
    expect(d.numatune).toEqual({ memory: { '@mode': 'preferred', '@nodeset': '1' } });
    const plain = parsed(gpuDomain({}));
    expect(plain.devices.hostdev).toBeUndefined();
    expect(plain.numatune).toBeUndefined();
  });

  for (const hostile of ["0000:3b:00.0'/><evil", '0000:3b:00.0"/><hostdev', '0000:3B:00.0', '0000:3b:00.8', '3b:00.0', '']) {
    it(`refuses the PCI address ${JSON.stringify(hostile)} rather than write it`, () => {
      expect(() => gpuDomain({ gpus: [{ address: hostile, numa_node: 0 }] })).toThrow(/not a PCI address/);
      expect(() => gpuDomain({ gpus: [{ address: '0000:3b:00.0', numa_node: 0 }], hostdevs: ['0000:3b:00.0', hostile] })).toThrow(
        /not a PCI address/,
      );
    });
  }

  it('refuses a cpuset that is not one', () => {
    for (const cpuset of ['0-7"/><evil', '0-7,', 'all']) {
      expect(() => gpuDomain({ gpus: [{ address: '0000:3b:00.0', numa_node: 0 }], cpuset })).toThrow(/not a cpuset/);
    }
  });
});

describe('NUMA node CPUs from libvirt capabilities', () => {
  const caps = `<capabilities>
  <host>
    <uuid>00000000-0000-0000-0000-000000000000</uuid>
    <cpu><arch>x86_64</arch></cpu>
    <topology>
      <cells num='2'>
        <cell id='0'>
          <memory unit='KiB'>65536000</memory>
          <cpus num='4'>
            <cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0,2'/>
            <cpu id='1' socket_id='0' die_id='0' core_id='1' siblings='1,3'/>
            <cpu id='2' socket_id='0' die_id='0' core_id='0' siblings='0,2'/>
            <cpu id='3' socket_id='0' die_id='0' core_id='1' siblings='1,3'/>
          </cpus>
        </cell>
        <cell id='1'>
          <memory unit='KiB'>65536000</memory>
          <cpus num='3'>
            <cpu id='4' socket_id='1' die_id='0' core_id='0' siblings='4'/>
            <cpu id='5' socket_id='1' die_id='0' core_id='1' siblings='5'/>
            <cpu id='9' socket_id='1' die_id='0' core_id='2' siblings='9'/>
          </cpus>
        </cell>
      </cells>
    </topology>
  </host>
</capabilities>`;

  it("writes a node's CPUs as libvirt's cpuset", () => {
    expect(numaNodeCpuset(caps, 0)).toBe('0-3');
    expect(numaNodeCpuset(caps, 1)).toBe('4-5,9');
    expect(cpusetOf([7, 1, 2, 3, 5, 3])).toBe('1-3,5,7');
  });

  it('gives none for a node the host does not have, or capabilities without a topology', () => {
    expect(numaNodeCpuset(caps, 2)).toBeNull();
    expect(numaNodeCpuset('<capabilities><host/></capabilities>', 0)).toBeNull();
    expect(numaNodeCpuset('<<<', 0)).toBeNull();
  });
});
